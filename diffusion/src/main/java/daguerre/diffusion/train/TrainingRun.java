package daguerre.diffusion.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.nn.Initializers;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.schedule.Schedules;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.train.data.EmojiDataset;
import daguerre.diffusion.train.data.ImageCaptionDataset;
import daguerre.diffusion.train.data.ImageFolderDataset;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.weights.model.DiscoveredModel;
import daguerre.weights.model.ModelDiscovery;
import daguerre.weights.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * The whole recipe of a {@link TrainConfig}, resumable at any point:
 * <ol>
 *   <li>learn the BPE vocabulary from the captions ({@code run/tokenizer/}, once);</li>
 *   <li>stage {@value #VAE_STAGE}: the autoencoder on the images ({@link VaeObjective});</li>
 *   <li>stage {@value #DIFFUSION_STAGE}: text encoder and U-Net on latents of the averaged (EMA)
 *       autoencoder, scaled to unit deviation ({@link DiffusionObjective});</li>
 *   <li>export the EMA weights as a diffusers folder (F16).</li>
 * </ol>
 * A recipe with {@code init} (a fine-tune) skips the first two: tokenizer and autoencoder come
 * from that model, and stage 2 starts from its text encoder and U-Net.
 * Each stage resumes from its newest checkpoint under {@code run/checkpoints/}; a finished stage
 * is only reloaded.
 */
public final class TrainingRun {

    /** Name of stage 1. */
    public static final String VAE_STAGE = "vae";
    /** Name of stage 2. */
    public static final String DIFFUSION_STAGE = "diffusion";
    /** Samples whose latents set the scaling factor. */
    static final int SCALING_SAMPLES = 512;

    private final TrainConfig config;
    private final TrainingListener listener;
    private final DoubleSupplier peakGflops;

    public TrainingRun(TrainConfig config, TrainingListener listener, DoubleSupplier peakGflops) {
        this.config = config;
        this.listener = listener;
        this.peakGflops = peakGflops;
    }

    /** The training images of a recipe: the emoji recipe's training split, or a captioned folder. */
    public static ImageCaptionDataset trainingData(TrainConfig config) {
        return switch (config.data().kind()) {
            case EMOJI -> EmojiDataset.load(config.data().path(), config.imageSize(), config.seed(),
                    config.data().objectColourRepeats()).train();
            case FOLDER -> ImageFolderDataset.open(config.data().path(), config.imageSize());
        };
    }

    /** Runs (or resumes) every stage and exports the model; returns the export folder. */
    public Path run() throws IOException {
        return execute(true, config.exportDir());
    }

    /**
     * Exports the EMA weights of the newest checkpoints without training, e.g. to evaluate a run
     * that is still going: the VAE stage must be finished and the diffusion stage must have a
     * checkpoint. Returns {@code folder}.
     */
    public Path exportCheckpoint(Path folder) throws IOException {
        return execute(false, folder);
    }

    /**
     * What stage 2 starts from: the frozen autoencoder (config with its latent scaling factor, and
     * weights), the tokenizer and its folder, and the text encoder and U-Net to train.
     */
    private record StageTwoStart(ClipTokenizer tokenizer, Path tokenizerFolder, AutoencoderKL frozenVae,
                                 Map<String, NDArray> vaeWeights, ClipTextModel textEncoder, UNet2DConditionModel unet) {}

    private Path execute(boolean train, Path exportDir) throws IOException {
        Path runDir = config.runDir();
        TrainingLog log = new TrainingLog(runDir);
        log.event(train ? "start" : "export_checkpoint", "config", config.source().toString(), "seed", config.seed());
        ImageCaptionDataset data = trainingData(config);
        Path checkpoints = runDir.resolve("checkpoints");
        try (NDManager manager = DjlRuntime.newManager()) {
            StageTwoStart start = config.init().isPresent()
                    ? fromModel(config.init().get(), log, manager)
                    : fromScratch(train, data, checkpoints, log, manager);
            VaeConfig vaeConfig = start.frozenVae().config();
            float scaling = vaeConfig.scalingFactor();
            listener.onMessage(String.format("latent scaling factor %.5f", scaling));

            // stage 2
            ClipTextModel textEncoder = start.textEncoder();
            UNet2DConditionModel unet = start.unet();
            TrainConfig.Optimisation diffusionSettings = config.diffusion().optimisation();
            Map<String, Module> networks = new LinkedHashMap<>();
            networks.put("text_encoder", textEncoder);
            networks.put("unet", unet);
            try (Trainer trainer = new Trainer(settings(DIFFUSION_STAGE, diffusionSettings), TrainableParameters.of(networks),
                    manager, checkpoints, log, listener, peakGflops)) {
                long resumedAt = train ? trainer.resume() : trainer.loadLatest().map(p -> trainer.step()).orElse(0L);
                if (!train && resumedAt == 0) {
                    throw new IllegalStateException("the " + DIFFUSION_STAGE + " stage has no checkpoint yet: nothing to export");
                }
                if (train && !trainer.finished()) {
                    listener.onMessage(String.format("%s: %d steps of %d latents, text encoder %,d + U-Net %,d parameters",
                            DIFFUSION_STAGE, diffusionSettings.steps(), diffusionSettings.batchSize(),
                            textEncoder.parameterCount(), unet.parameterCount()));
                    LatentCache latents = new LatentCache(start.frozenVae(), data, manager, scaling);
                    trainer.run(new DiffusionObjective(unet, textEncoder, start.tokenizer(), latents, data.size(),
                            diffusionSettings.batchSize(), Schedules.alphasCumprod(SchedulerConfig.SD15),
                            config.diffusion().emptyCaptionRate(), TrainingRandom.mix(config.seed(), 2)), diffusionSettings.steps());
                    log.event("stage_done", "stage", DIFFUSION_STAGE, "training_seconds", trainer.trainingSeconds(),
                            "cpu_seconds", trainer.cpuSeconds());
                }
                DiffusersExport.write(new DiffusersExport.Components(unet.config(), strip(trainer.emaWeights(), "unet."),
                        vaeConfig, start.vaeWeights(), textEncoder.config(), strip(trainer.emaWeights(), "text_encoder."),
                        start.tokenizerFolder(), SchedulerConfig.SD15), exportDir, DType.F16);
                log.event("exported", "folder", exportDir.toString(), "diffusion_step", trainer.step());
            }
            listener.onMessage("model written to " + exportDir);
            return exportDir;
        }
    }

    /**
     * Training from scratch: learns the tokenizer, runs (or reloads) stage 1, sets the latent scaling
     * factor from the averaged autoencoder, and initialises the text encoder and U-Net randomly.
     */
    private StageTwoStart fromScratch(boolean train, ImageCaptionDataset data, Path checkpoints, TrainingLog log,
                                      NDManager manager) throws IOException {
        ClipTokenizer tokenizer = tokenizer(data, log);
        AutoencoderKL vae = new AutoencoderKL(config.vae().model());
        Initializers.initialize(vae, TrainingRandom.mix(config.seed(), TrainingRandom.INITIAL_WEIGHTS, 1), manager);
        Map<String, NDArray> vaeEma;
        TrainConfig.Optimisation vaeSettings = config.vae().optimisation();
        try (Trainer trainer = new Trainer(settings(VAE_STAGE, vaeSettings), TrainableParameters.of(Map.of("vae", vae)),
                manager, checkpoints, log, listener, peakGflops)) {
            if (train) {
                trainer.resume();
            } else {
                trainer.loadLatest();
            }
            if (!train && !trainer.finished()) {
                throw new IllegalStateException("the " + VAE_STAGE + " stage is not finished (step " + trainer.step() + " of "
                        + vaeSettings.steps() + "): nothing to export yet");
            }
            if (!trainer.finished()) {
                listener.onMessage(String.format("%s: %d steps of %d images, %,d parameters", VAE_STAGE, vaeSettings.steps(),
                        vaeSettings.batchSize(), vae.parameterCount()));
                trainer.run(new VaeObjective(vae, data, vaeSettings.batchSize(), config.vae().klWeight(),
                        config.vae().edgeWeight(), TrainingRandom.mix(config.seed(), 1)), vaeSettings.steps());
                log.event("stage_done", "stage", VAE_STAGE, "training_seconds", trainer.trainingSeconds(),
                        "cpu_seconds", trainer.cpuSeconds());
            }
            vaeEma = copy(strip(trainer.emaWeights(), "vae."), manager);
        }
        AutoencoderKL unscaled = new AutoencoderKL(config.vae().model());
        load(unscaled, vaeEma);
        float scaling = LatentCache.unitScalingFactor(unscaled, data, SCALING_SAMPLES, manager);
        AutoencoderKL frozenVae = new AutoencoderKL(withScaling(config.vae().model(), scaling));
        load(frozenVae, vaeEma);

        ClipTextModel textEncoder = new ClipTextModel(config.textEncoderConfig(tokenizer.vocabSize()));
        Initializers.initialize(textEncoder, TrainingRandom.mix(config.seed(), TrainingRandom.INITIAL_WEIGHTS, 2), manager);
        UNet2DConditionModel unet = new UNet2DConditionModel(config.unet());
        Initializers.initialize(unet, TrainingRandom.mix(config.seed(), TrainingRandom.INITIAL_WEIGHTS, 3), manager);
        return new StageTwoStart(tokenizer, config.runDir().resolve("tokenizer"), frozenVae, vaeEma, textEncoder, unet);
    }

    /**
     * A fine-tune: the tokenizer, autoencoder (with its scaling factor), text encoder and U-Net of
     * the diffusers folder {@code folder}, loaded as {@code StableDiffusionModel.load} loads them.
     */
    private StageTwoStart fromModel(Path folder, TrainingLog log, NDManager manager) throws IOException {
        try (DiscoveredModel model = ModelDiscovery.open(folder)) {
            if (model.tokenizer().folder().isEmpty()) {
                throw new IOException(folder + ": a fine-tune needs a diffusers folder with a tokenizer/ folder");
            }
            if (!model.predictionType().equals("epsilon")) {
                throw new IOException(folder + ": predicts " + model.predictionType()
                        + "; the trainer's objective is epsilon prediction only");
            }
            ClipTokenizer tokenizer = StableDiffusionModel.loadTokenizer(model.tokenizer());
            ClipTextModel textEncoder = new ClipTextModel(ClipTextConfig.fromJson(model.textEncoder().config()));
            textEncoder.load(model.textEncoder().weights(), "", manager);
            UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.fromJson(model.unet().config()));
            WeightLoader.load(unet, model.unet().weights(), "", manager);
            AutoencoderKL vae = new AutoencoderKL(VaeConfig.fromJson(model.vae().config()));
            WeightLoader.load(vae, model.vae().weights(), "", manager);
            Map<String, NDArray> vaeWeights = new LinkedHashMap<>();
            vae.namedParameters().forEach((key, parameter) -> vaeWeights.put(key, parameter.value()));
            log.event("init", "model", folder.toString());
            listener.onMessage("fine-tuning " + folder + ": text encoder and U-Net start from its weights, its autoencoder"
                    + " and tokenizer are kept");
            return new StageTwoStart(tokenizer, model.tokenizer().folder().get(), vae, vaeWeights, textEncoder, unet);
        }
    }

    private Trainer.Settings settings(String stage, TrainConfig.Optimisation o) {
        return new Trainer.Settings(stage, o.steps(), o.batchSize(), o.schedule(), o.optimiser(), o.emaDecay(),
                config.checkpointMinutes() * 60, TrainingRandom.mix(config.seed(), stage.hashCode()));
    }

    private ClipTokenizer tokenizer(ImageCaptionDataset data, TrainingLog log) throws IOException {
        Path folder = config.runDir().resolve("tokenizer");
        if (!Files.isRegularFile(folder.resolve("merges.txt"))) {
            List<String> captions = new ArrayList<>(data.captions());
            BpeVocabulary vocabulary = BpeVocabulary.learn(captions, config.maxMerges());
            Path temp = config.runDir().resolve(".tokenizer.tmp");
            Checkpoint.deleteRecursively(temp);
            vocabulary.write(temp);
            Files.move(temp, folder);
            log.event("tokenizer", "merges", vocabulary.merges().size(), "vocab_size", vocabulary.size());
            listener.onMessage("learned a BPE vocabulary of " + vocabulary.size() + " tokens from " + captions.size() + " captions");
        }
        return ClipTokenizer.load(folder);
    }

    private static VaeConfig withScaling(VaeConfig c, float scaling) {
        return new VaeConfig(c.inChannels(), c.outChannels(), c.blockOutChannels(), c.layersPerBlock(), c.latentChannels(),
                c.normNumGroups(), c.sampleSize(), scaling);
    }

    /** The entries of {@code weights} whose names start with {@code prefix}, without it. */
    static Map<String, NDArray> strip(Map<String, NDArray> weights, String prefix) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        weights.forEach((name, array) -> {
            if (name.startsWith(prefix)) {
                out.put(name.substring(prefix.length()), array);
            }
        });
        return out;
    }

    private static Map<String, NDArray> copy(Map<String, NDArray> weights, NDManager manager) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        weights.forEach((name, array) -> {
            NDArray copy = array.duplicate();
            copy.attach(manager);
            out.put(name, copy);
        });
        return out;
    }

    /** Sets every parameter of {@code module} to the array of the same name (shared, not copied). */
    private static void load(Module module, Map<String, NDArray> weights) {
        for (Map.Entry<String, Parameter> entry : module.namedParameters().entrySet()) {
            NDArray value = weights.get(entry.getKey());
            if (value == null) {
                throw new IllegalStateException("no trained weights for " + entry.getKey());
            }
            entry.getValue().set(value);
        }
    }
}
