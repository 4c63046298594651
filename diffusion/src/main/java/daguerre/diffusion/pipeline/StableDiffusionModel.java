package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.bench.CpuFeatures;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.nn.WeightLoader;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.schedule.PredictionType;
import daguerre.diffusion.schedule.SchedulerConfig;
import daguerre.diffusion.text.ClipTextConfig;
import daguerre.diffusion.text.ClipTextModel;
import daguerre.diffusion.text.ClipTextModelWithProjection;
import daguerre.diffusion.text.SdxlPromptEncoder;
import daguerre.diffusion.text.ClipTokenizer;
import daguerre.diffusion.unet.UNet2DConditionModel;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.AutoencoderKL;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.weights.model.DiscoveredModel;
import daguerre.weights.model.ModelCard;
import daguerre.weights.model.ModelDiscovery;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.model.TokenizerFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A loaded Stable Diffusion 1.x/2.x or SDXL model: tokenizer, text encoder (SDXL: and the second
 * pair), U-Net, VAE and scheduler settings, with every weight in one {@link NDManager} (float32). Loaded from a diffusers folder or
 * an original single {@code .safetensors} file through {@link ModelDiscovery}; nothing else.
 */
public final class StableDiffusionModel implements AutoCloseable {

    private final String id;
    private final String hash;
    private final NDManager manager;
    private final ClipTokenizer tokenizer;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final SchedulerConfig scheduler;
    private final ModelCard card;
    private final SecondTextEncoder secondTextEncoder;

    /**
     * SDXL's second tokenizer and text encoder (OpenCLIP ViT-bigG with its projection), and whether an
     * empty negative prompt conditions on zeros (the model's {@code force_zeros_for_empty_prompt}).
     */
    public record SecondTextEncoder(ClipTokenizer tokenizer, ClipTextModelWithProjection encoder, boolean forceZerosForEmptyPrompt) {}

    private StableDiffusionModel(String id, String hash, NDManager manager, ClipTokenizer tokenizer,
                                 ClipTextModel textEncoder, SecondTextEncoder secondTextEncoder, UNet2DConditionModel unet,
                                 AutoencoderKL vae, SchedulerConfig scheduler, ModelCard card) {
        this.id = card == null ? id : card.id();
        this.card = card;
        this.hash = hash;
        this.manager = manager;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.secondTextEncoder = secondTextEncoder;
        this.unet = unet;
        this.vae = vae;
        this.scheduler = scheduler;
        boolean textTime = unet.config().textTime() != null;
        if (textTime != (secondTextEncoder != null)) {
            throw new IllegalArgumentException(textTime ? "an SDXL U-Net (addition_embed_type text_time) needs a second text encoder"
                    : "a second text encoder needs an SDXL U-Net (addition_embed_type text_time)");
        }
    }

    /**
     * A model assembled from components built in memory (random weights for benchmarks and tests,
     * a freshly trained model). Every weight must already live in {@code manager}, which the model
     * then owns and closes.
     *
     * @param hash the short model hash to show (e.g. of the file the model will be saved to)
     */
    public static StableDiffusionModel of(String id, String hash, NDManager manager, ClipTokenizer tokenizer,
                                          ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
                                          SchedulerConfig scheduler) {
        return new StableDiffusionModel(id, hash, manager, tokenizer, textEncoder, null, unet, vae, scheduler, null);
    }

    /** As {@link #of}, for an SDXL-class model with its second text encoder. */
    public static StableDiffusionModel ofSdxl(String id, String hash, NDManager manager, ClipTokenizer tokenizer,
                                              ClipTextModel textEncoder, SecondTextEncoder secondTextEncoder,
                                              UNet2DConditionModel unet, AutoencoderKL vae, SchedulerConfig scheduler) {
        return new StableDiffusionModel(id, hash, manager, tokenizer, textEncoder, secondTextEncoder, unet, vae, scheduler, null);
    }

    /**
     * Loads the model at {@code path} (a diffusers folder or a single-file checkpoint).
     *
     * @param predictionType "epsilon", "v_prediction", or null to take it from the model (scheduler
     *     config, or a single file's sidecar .yaml; default epsilon)
     * @param hasher computes (and caches) the A1111 model hash
     */
    public static StableDiffusionModel load(Path path, String predictionType, ModelHasher hasher) throws IOException {
        return load(path, predictionType, hasher, WeightPrecision.AS_STORED);
    }

    /** As {@link #load(Path, String, ModelHasher)}, keeping the weights in {@code precision} ({@code --weight-dtype}). */
    public static StableDiffusionModel load(Path path, String predictionType, ModelHasher hasher, WeightPrecision precision)
            throws IOException {
        NDManager manager = DjlRuntime.newManager();
        try (DiscoveredModel model = ModelDiscovery.open(path, predictionType)) {
            ClipTokenizer tokenizer = loadTokenizer(model.tokenizer());
            ClipTextConfig textConfig = parseConfig(model, "text_encoder", "config.json",
                    () -> ClipTextConfig.fromJson(model.textEncoder().config()));
            ClipTextModel textEncoder = new ClipTextModel(textConfig);
            textEncoder.load(model.textEncoder().weights(), "", manager, precision);
            SecondTextEncoder second = null;
            if (model.secondTextEncoder().isPresent()) {
                DiscoveredModel.SecondTextEncoder found = model.secondTextEncoder().get();
                ClipTextConfig config2 = parseConfig(model, "text_encoder_2", "config.json",
                        () -> ClipTextConfig.fromJson(found.encoder().config()));
                ClipTextModelWithProjection encoder2 = new ClipTextModelWithProjection(config2);
                encoder2.load(found.encoder().weights(), "", manager, precision);
                second = new SecondTextEncoder(loadTokenizer(found.tokenizer()), encoder2, found.forceZerosForEmptyPrompt());
            }
            UNetConfig unetConfig = parseConfig(model, "unet", "config.json", () -> UNetConfig.fromJson(model.unet().config()));
            UNet2DConditionModel unet = new UNet2DConditionModel(unetConfig);
            WeightLoader.load(unet, model.unet().weights(), "", manager, precision);
            VaeConfig vaeConfig = parseConfig(model, "vae", "config.json", () -> VaeConfig.fromJson(model.vae().config()));
            AutoencoderKL vae = new AutoencoderKL(vaeConfig);
            WeightLoader.load(vae, model.vae().weights(), "", manager, precision);
            SchedulerConfig scheduler = parseConfig(model, "scheduler", "scheduler_config.json",
                    () -> model.schedulerConfig().map(SchedulerConfig::fromJson).orElse(SchedulerConfig.SD15)
                            .withPredictionType(PredictionType.fromConfigName(model.predictionType())));
            String hash = hasher.shortHash(model.hashedFile());
            ModelCard card = ModelCard.find(model.path()).orElse(null);
            return new StableDiffusionModel(model.id(), hash, manager, tokenizer, textEncoder, second, unet, vae, scheduler, card);
        } catch (IOException | RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * Parses one component's config, turning a refused value into an {@link IOException} that names
     * the file: {@code <folder>/unet/config.json: unet config: layers_per_block = 0 is out of range
     * (allowed 1..64)}. A single file's configs are inferred from its tensors and named after it.
     */
    private static <T> T parseConfig(DiscoveredModel model, String component, String fileName, Supplier<T> parse)
            throws IOException {
        try {
            return parse.get();
        } catch (IllegalArgumentException e) {
            String where = model.format() == DiscoveredModel.Format.DIFFUSERS_FOLDER
                    ? model.path().resolve(component).resolve(fileName).toString()
                    : model.path() + " (" + component + " config inferred from the checkpoint)";
            throw new IOException(where + ": " + e.getMessage(), e);
        }
    }

    /** The tokenizer of {@code files} (a folder, or the bundled CLIP vocabulary) with their padding token. */
    public static ClipTokenizer loadTokenizer(TokenizerFiles files) throws IOException {
        ClipTokenizer tokenizer;
        if (files.folder().isPresent()) {
            tokenizer = ClipTokenizer.load(files.folder().get());
        } else {
            Path temp = Files.createTempDirectory("daguerre-tokenizer");
            try {
                tokenizer = ClipTokenizer.load(files.copyTo(temp));
            } finally {
                try (Stream<Path> walk = Files.walk(temp)) {
                    for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
        return tokenizer.padToken().equals(files.padToken()) ? tokenizer : tokenizer.withPadToken(files.padToken());
    }

    /** The model id: its card's id, else its folder or file name without extension. */
    public String id() {
        return id;
    }

    /** What the model says about itself ({@value ModelCard#FILE_NAME} in its folder), if anything. */
    public Optional<ModelCard> card() {
        return Optional.ofNullable(card);
    }

    /** A1111's short model hash (first 10 hex digits of the weights file's SHA-256). */
    public String hash() {
        return hash;
    }

    /**
     * Runs the matrix products of the text encoder(s) and the U-Net in {@code requested}, resolved for
     * this model's weights and this CPU ({@link ComputePrecision#resolve}: {@code auto} is bfloat16
     * only with 16-bit weights on a CPU with native bf16 units), keeping the networks' kernels.
     *
     * <p>The VAE keeps float32 products. Its bfloat16 convolutions are faster too, but each one
     * holds a bfloat16 copy of its input and output beside the float32 ones, and at 512 px those are
     * 64-128 MiB each: the whole process's peak (reached in the decode) rose from 3.13 to 3.32 GiB
     * with SD 1.5 and f16 weights (docs/performance.md), for a decode that runs once per image.
     *
     * @return the type now in use, float32 or bfloat16
     */
    public ComputePrecision useComputePrecision(ComputePrecision requested) {
        ComputePrecision resolved = requested.resolve(matrixType(), CpuFeatures.current().hasNativeBf16());
        textEncoder.useKernels(textEncoder.kernels().withProducts(resolved));
        if (secondTextEncoder != null) {
            secondTextEncoder.encoder().useKernels(secondTextEncoder.encoder().kernels().withProducts(resolved));
        }
        unet.useKernels(unet.kernels().withProducts(resolved));
        return resolved;
    }

    /** The type the U-Net's and text encoders' matrix products run in: float32 unless {@link #useComputePrecision} said otherwise. */
    public ComputePrecision computePrecision() {
        return unet.kernels().products();
    }

    /** The type the U-Net's matrices are kept in (all of a model's are, unless it is mixed). */
    private DataType matrixType() {
        return unet.namedParameters().values().stream().filter(p -> p.shape().dimension() >= 2)
                .map(Parameter::dataType).findFirst().orElse(DataType.FLOAT32);
    }

    /** Uses {@code kernels} in every pass of the text encoder, U-Net and VAE from now on (default: all, float32 products). */
    public void useKernels(Kernels kernels) {
        textEncoder.useKernels(kernels);
        if (secondTextEncoder != null) {
            secondTextEncoder.encoder().useKernels(kernels);
        }
        unet.useKernels(kernels);
        vae.useKernels(kernels);
    }

    /** The networks whose weights make up the model: text encoder(s), U-Net, VAE. */
    public List<Module> networks() {
        List<Module> networks = new ArrayList<>(List.of(textEncoder));
        secondTextEncoder().ifPresent(second -> networks.add(second.encoder()));
        networks.add(unet);
        networks.add(vae);
        return networks;
    }

    /**
     * The type the matrices and kernels are kept in ({@code float32}, {@code float16},
     * {@code bfloat16}, or {@code mixed} when they differ; norms and biases are always float32).
     */
    public String weightDtype() {
        Set<String> types = new TreeSet<>();
        for (Module network : networks()) {
            for (Parameter parameter : network.namedParameters().values()) {
                if (parameter.shape().dimension() >= 2) {
                    types.add(parameter.dataType().name().toLowerCase(Locale.ROOT));
                }
            }
        }
        return types.size() == 1 ? types.iterator().next() : "mixed " + types;
    }

    /** Bytes every weight of the model takes in memory. */
    public long weightBytes() {
        return networks().stream().mapToLong(Module::parameterBytes).sum();
    }

    /** The manager that owns every weight; requests use child managers of it. */
    public NDManager manager() {
        return manager;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    public ClipTextModel textEncoder() {
        return textEncoder;
    }

    /** SDXL's second tokenizer and text encoder; empty for SD 1.x/2.x. */
    public Optional<SecondTextEncoder> secondTextEncoder() {
        return Optional.ofNullable(secondTextEncoder);
    }

    /**
     * The largest clip skip the model takes: its text encoder's layer count; for SDXL the fewer of its
     * two encoders' (clip skip takes the same hidden state of both, counted from the end).
     */
    public int textEncoderLayers() {
        int layers = textEncoder.config().numHiddenLayers();
        return secondTextEncoder == null ? layers : Math.min(layers, secondTextEncoder.encoder().config().numHiddenLayers());
    }

    /** Whether this is an SDXL-class model (two text encoders, micro-conditioning). */
    public boolean isSdxl() {
        return secondTextEncoder != null;
    }

    /** Both text stacks, for {@link daguerre.diffusion.text.SdxlPromptEncoder}; only for SDXL models. */
    public SdxlPromptEncoder.TextEncoders sdxlTextEncoders() {
        if (secondTextEncoder == null) {
            throw new IllegalStateException(id + " is not an SDXL model: it has one text encoder");
        }
        return new SdxlPromptEncoder.TextEncoders(tokenizer, textEncoder, secondTextEncoder.tokenizer(), secondTextEncoder.encoder());
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    /** Noise schedule settings (from the model's scheduler config, or the SD 1.5 defaults). */
    public SchedulerConfig scheduler() {
        return scheduler;
    }

    /** Pixels per latent cell: 2^(VAE levels - 1), 8 for SD. */
    public int vaeScaleFactor() {
        return vae.config().downsamplingFactor();
    }

    /** Default image width and height: the U-Net's sample size times the VAE scale factor. */
    public int defaultImageSize() {
        return unet.config().sampleSize() * vaeScaleFactor();
    }

    @Override
    public void close() {
        manager.close();
    }
}
