package daguerre.diffusion.bench;

import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import daguerre.diffusion.eval.ImageMetrics;
import daguerre.diffusion.lora.AppliedLoras;
import daguerre.diffusion.lora.LoraMerger;
import daguerre.diffusion.lora.RuntimeLora;
import daguerre.diffusion.lora.RuntimeLoras;
import daguerre.diffusion.lora.WeightedLora;
import daguerre.diffusion.nn.ComputePrecision;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.LowRankBranch;
import daguerre.diffusion.nn.LowRankBranches;
import daguerre.diffusion.nn.Parameter;
import daguerre.diffusion.pipeline.GenerationJob;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.MicroConditioning;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.text.PromptEncoder;
import daguerre.diffusion.text.SdxlPromptEncoder;
import daguerre.diffusion.unet.UNetConditioning;
import daguerre.diffusion.unet.UNetConfig;
import daguerre.diffusion.vae.VaeConfig;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraKind;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Times the three networks of a loaded model as a generation uses them, and relates each time to
 * the machine's FLOP limit measured in the same run:
 * <ul>
 *   <li>one U-Net step: batch 2 (unconditional and conditional halves, as with classifier-free
 *       guidance) of latents [2, 4, s/8, s/8] on a [2, 77, D] context, per image size s; for SDXL
 *       also a pooled text embedding [2, P] and the 6 micro-conditioning time ids [2, 6]
 *       (original size s x s, no crop, target size s x s);</li>
 *   <li>one VAE decode of [1, 4, s/8, s/8] latents, per image size;</li>
 *   <li>one text encode of one 77-token prompt; for SDXL both encoders as the pipeline runs them
 *       ({@link SdxlPromptEncoder#encodeIds}: encoder 1 to its penultimate layer, encoder 2 through
 *       every layer and its projection).</li>
 * </ul>
 * Each figure is the median over {@code repeats} calls after {@code warmups} untimed ones; each call
 * runs in its own child {@link NDManager}, its inputs created there before the clock starts. The
 * FLOP count of each call comes from {@link FlopCounter}; the limit is the float32 peak of
 * {@link PeakFlops} (the FMA loop), measured before and after the timed calls (the higher is used,
 * since the CPU share of shared machines drifts). A second, independent peak, a large oneDNN
 * matrix multiply ({@link GemmPeak}), is measured next to each FMA measurement and reported beside
 * it; the ratios keep using the FMA peak. Peak RSS is the process's {@code VmHWM} (Linux), reset at the
 * start of each size where the kernel allows it. Inputs are seeded Java random numbers.
 */
public final class Benchmark {

    private static final float TIMESTEP = 500f;
    private static final String PROMPT = "a photograph of an astronaut riding a horse on the moon, highly detailed";
    private static final double GIB = 1024.0 * 1024 * 1024;
    /** How far apart (relative) the FMA and GEMM peaks may be before {@code bench} says they differ. */
    public static final double PEAK_PROBE_TOLERANCE = 0.10;

    private Benchmark() {}

    /**
     * What to run.
     *
     * @param sizes image sizes in pixels (multiples of the VAE's scale factor)
     * @param repeats timed calls per figure (the median is reported)
     * @param warmups untimed calls before them
     * @param seed seed of the random inputs
     */
    public record Options(List<Integer> sizes, int repeats, int warmups, long seed) {

        public Options {
            sizes = List.copyOf(sizes);
            if (sizes.isEmpty()) {
                throw new IllegalArgumentException("give at least one image size");
            }
            if (repeats < 1 || warmups < 0) {
                throw new IllegalArgumentException("repeats must be at least 1 and warmups not negative, got "
                        + repeats + " and " + warmups);
            }
        }
    }

    /**
     * Figures for one image size.
     *
     * @param unetStepSeconds median seconds of one batch-2 U-Net call
     * @param unetStepFlops FLOPs of that call
     * @param vaeDecodeSeconds median seconds of one batch-1 decode
     * @param vaeDecodeFlops FLOPs of that decode
     * @param unetPeakRssGib peak RSS while the U-Net steps ran (whole model loaded)
     * @param unetOnlyRssGib that peak less the text encoder's and VAE's weights: the RSS of a
     *     process holding the U-Net alone, estimated
     * @param peakRssGib peak RSS over the size's U-Net steps and decodes
     */
    public record SizeFigures(int size, double unetStepSeconds, long unetStepFlops, double vaeDecodeSeconds,
                              long vaeDecodeFlops, double unetPeakRssGib, double unetOnlyRssGib, double peakRssGib) {}

    /**
     * Figures of one run.
     *
     * @param peakGflopsStart the float32 peak measured before the timed calls, GFLOP/s
     * @param peakGflopsEnd the same, measured after them
     * @param gemmPeakGflopsStart the {@link GemmPeak} matrix-multiply peak before the timed calls, GFLOP/s
     * @param gemmPeakGflopsEnd the same, after them
     * @param modelRssGib RSS with the model loaded, before any call, once it has settled ({@link MemoryStatus#settledRssGib})
     * @param textEncodeSeconds median seconds of one text encode (batch 1, 77 tokens)
     */
    public record Figures(double peakGflopsStart, double peakGflopsEnd, double gemmPeakGflopsStart,
                          double gemmPeakGflopsEnd, double modelRssGib, double textEncodeSeconds,
                          long textEncodeFlops, List<SizeFigures> sizes) {

        /** The FLOP limit used for the ratios: the higher of the two peak measurements, in GFLOP/s. */
        public double peakGflops() {
            return Math.max(peakGflopsStart, peakGflopsEnd);
        }

        /** The higher of the two {@link GemmPeak} measurements, in GFLOP/s. */
        public double gemmPeakGflops() {
            return Math.max(gemmPeakGflopsStart, gemmPeakGflopsEnd);
        }

        /**
         * Whether the two peak probes disagree by more than {@code PEAK_PROBE_TOLERANCE} (10%): the
         * GEMM peak above 1.1 times the FMA peak or below 0.9 times it.
         */
        public boolean peakProbesDiffer() {
            return Math.abs(gemmPeakGflops() / peakGflops() - 1) > PEAK_PROBE_TOLERANCE;
        }

        /** {@code seconds} as a multiple of the time {@code flops} take at the peak. */
        public double ratio(double seconds, long flops) {
            return seconds / (flops / (peakGflops() * 1e9));
        }

        /**
         * Every figure by name, in print order: {@code peak_gflops} (the FMA peak, which every
         * {@code *_ratio} uses), the GEMM peak {@code gemm_peak_gflops} and
         * {@code gemm_to_fma_peak}, {@code text_encode_s}, then per
         * size {@code unet_step_s.512}, {@code unet_step_ratio.512}, ... Times in seconds, FLOPs in
         * TFLOP (GFLOP for the text encoder), RSS in GiB.
         */
        public Map<String, Double> named() {
            Map<String, Double> out = new LinkedHashMap<>();
            out.put("peak_gflops", peakGflops());
            out.put("peak_gflops_start", peakGflopsStart);
            out.put("peak_gflops_end", peakGflopsEnd);
            out.put("gemm_peak_gflops", gemmPeakGflops());
            out.put("gemm_peak_gflops_start", gemmPeakGflopsStart);
            out.put("gemm_peak_gflops_end", gemmPeakGflopsEnd);
            out.put("gemm_to_fma_peak", gemmPeakGflops() / peakGflops());
            out.put("model_rss_gib", modelRssGib);
            out.put("text_encode_s", textEncodeSeconds);
            out.put("text_encode_gflop", textEncodeFlops / 1e9);
            out.put("text_encode_ratio", ratio(textEncodeSeconds, textEncodeFlops));
            for (SizeFigures s : sizes) {
                String at = "." + s.size();
                out.put("unet_step_s" + at, s.unetStepSeconds());
                out.put("unet_step_tflop" + at, s.unetStepFlops() / 1e12);
                out.put("unet_step_ratio" + at, ratio(s.unetStepSeconds(), s.unetStepFlops()));
                out.put("vae_decode_s" + at, s.vaeDecodeSeconds());
                out.put("vae_decode_tflop" + at, s.vaeDecodeFlops() / 1e12);
                out.put("vae_decode_ratio" + at, ratio(s.vaeDecodeSeconds(), s.vaeDecodeFlops()));
                out.put("unet_peak_rss_gib" + at, s.unetPeakRssGib());
                out.put("unet_only_rss_gib" + at, s.unetOnlyRssGib());
                out.put("peak_rss_gib" + at, s.peakRssGib());
            }
            return out;
        }
    }

    /** Runs the benchmark on {@code model}. */
    public static Figures run(StableDiffusionModel model, Options options) throws IOException, InterruptedException {
        int factor = model.vaeScaleFactor();
        for (int size : options.sizes()) {
            if (size <= 0 || size % factor != 0) {
                throw new IllegalArgumentException("image size " + size + " is not a positive multiple of " + factor);
            }
        }
        UNetConfig unet = model.unet().config();
        VaeConfig vae = model.vae().config();
        SplittableRandom random = new SplittableRandom(options.seed());
        double peakStart = MachinePeak.measureGflops();
        double gemmStart = GemmPeak.measureGflops();
        System.gc();
        DjlRuntime.releaseFreedNativeMemory();
        double modelRss = MemoryStatus.settledRssGib();

        int[] ids = model.tokenizer().encode(PROMPT);
        int tokens = ids.length;
        long[] idValues = Arrays.stream(ids).asLongStream().toArray();
        double textSeconds;
        long textFlops;
        long otherWeights = model.textEncoder().parameterBytes() + model.vae().parameterBytes();
        if (model.isSdxl()) {
            SdxlPromptEncoder encoder = new SdxlPromptEncoder(model.sdxlTextEncoders(), PromptEncoder.Options.DEFAULTS,
                    model.secondTextEncoder().get().forceZerosForEmptyPrompt());
            long[] idValues2 = Arrays.stream(model.secondTextEncoder().get().tokenizer().encode(PROMPT)).asLongStream().toArray();
            if (idValues2.length != tokens) {
                throw new IllegalStateException("the two tokenizers gave " + tokens + " and " + idValues2.length + " ids");
            }
            textSeconds = median(options, model.manager(), m -> {
                NDArray input = m.create(idValues, new Shape(1, tokens));
                NDArray input2 = m.create(idValues2, new Shape(1, tokens));
                return () -> encoder.encodeIds(input, input2, m).promptEmbeds();
            });
            textFlops = FlopCounter.sdxlTextEncoders(model.textEncoder().config(),
                    model.secondTextEncoder().get().encoder().config(), 1, tokens, encoder.hiddenStateFromEnd());
            otherWeights += model.secondTextEncoder().get().encoder().parameterBytes();
        } else {
            textSeconds = median(options, model.manager(), m -> {
                NDArray input = m.create(idValues, new Shape(1, tokens));
                return () -> model.textEncoder().encode(input, 1);
            });
            textFlops = FlopCounter.textEncoder(model.textEncoder().config(), 1, tokens);
        }

        double otherWeightsGib = otherWeights / GIB;
        List<SizeFigures> sizes = new ArrayList<>();
        for (int size : options.sizes()) {
            int latent = size / factor;
            Inputs inputs = Inputs.random(model, latent, tokens, random);
            MemoryStatus.resetPeak();
            double unetSeconds = unetStepSeconds(model, inputs, options);
            double unetPeak = MemoryStatus.peakRssGib();
            double vaeSeconds = vaeDecodeSeconds(model, inputs, options);
            sizes.add(new SizeFigures(size, unetSeconds, FlopCounter.unet(unet, 2, latent, latent, tokens),
                    vaeSeconds, FlopCounter.vaeDecode(vae, 1, latent, latent),
                    unetPeak, unetPeak - otherWeightsGib, MemoryStatus.peakRssGib()));
        }
        double gemmEnd = GemmPeak.measureGflops();
        double peakEnd = MachinePeak.measureGflops();
        return new Figures(peakStart, peakEnd, gemmStart, gemmEnd, modelRss, textSeconds, textFlops, sizes);
    }

    /**
     * Each fused kernel's effect, in one run: the median seconds of a U-Net step and of a VAE decode
     * at image size {@code size} with every {@link FusedOps.Kernel} in use ({@code all}), with each
     * one switched off in turn ({@code without_<kernel>}), and with none ({@code none}: plain DJL
     * ops only), each network with its own product type ({@link Kernels#products()}: the U-Net's
     * from {@code --compute-dtype}, the VAE's float32). Leaves the model's kernels as they were.
     *
     * @return by configuration name, {unet seconds, vae decode seconds}
     */
    public static Map<String, double[]> ablation(StableDiffusionModel model, int size, Options options) {
        Kernels used = model.unet().kernels();
        ComputePrecision vaeProducts = model.vae().kernels().products();
        Map<String, Kernels> configurations = new LinkedHashMap<>();
        configurations.put("all", Kernels.ALL.withProducts(used.products()));
        for (FusedOps.Kernel kernel : FusedOps.Kernel.values()) {
            configurations.put("without_" + kernel.name().toLowerCase(Locale.ROOT), Kernels.ALL.without(kernel).withProducts(used.products()));
        }
        configurations.put("none", Kernels.NONE.withProducts(used.products()));
        if (size <= 0 || size % model.vaeScaleFactor() != 0) {
            throw new IllegalArgumentException("image size " + size + " is not a positive multiple of " + model.vaeScaleFactor());
        }
        int tokens = model.tokenizer().encode(PROMPT).length;
        Inputs inputs = Inputs.random(model, size / model.vaeScaleFactor(), tokens, new SplittableRandom(options.seed()));
        Map<String, double[]> seconds = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Kernels> configuration : configurations.entrySet()) {
                model.useKernels(configuration.getValue());
                model.vae().useKernels(configuration.getValue().withProducts(vaeProducts));
                seconds.put(configuration.getKey(),
                        new double[] {unetStepSeconds(model, inputs, options), vaeDecodeSeconds(model, inputs, options)});
            }
        } finally {
            model.useKernels(used);
            model.vae().useKernels(used.withProducts(vaeProducts));
        }
        return seconds;
    }

    /**
     * Seeded random inputs of one image size: U-Net latents [2, in, h, h] and context [2, tokens, D]
     * (batch 2, as with guidance), VAE latents [1, latent channels, h, h]; for an SDXL U-Net also
     * the pooled text embedding [2, P] and the time ids [2, 6] of an uncropped image of the size
     * (null otherwise).
     */
    private record Inputs(int latent, int tokens, float[] sample, float[] context, float[] latents,
                          float[] textEmbeds, float[] timeIds) {

        static Inputs random(StableDiffusionModel model, int latent, int tokens, SplittableRandom random) {
            UNetConfig unet = model.unet().config();
            float[] sample = normal(random, 2L * unet.inChannels() * latent * latent);
            float[] context = normal(random, 2L * tokens * unet.crossAttentionDim());
            float[] latents = normal(random, (long) model.vae().config().latentChannels() * latent * latent);
            float[] textEmbeds = null;
            float[] timeIds = null;
            if (unet.hasTextTime()) {
                int pooled = unet.textTime().inputDim() - SDXL_TIME_IDS * unet.textTime().timeEmbedDim();
                textEmbeds = normal(random, 2L * pooled);
                int size = latent * model.vaeScaleFactor();
                float[] one = MicroConditioning.defaults(size, size).timeIds();  // original size, no crop, target size
                timeIds = new float[2 * SDXL_TIME_IDS];
                System.arraycopy(one, 0, timeIds, 0, SDXL_TIME_IDS);
                System.arraycopy(one, 0, timeIds, SDXL_TIME_IDS, SDXL_TIME_IDS);
            }
            return new Inputs(latent, tokens, sample, context, latents, textEmbeds, timeIds);
        }
    }

    /** Micro-conditioning numbers per sample of an SDXL U-Net. */
    private static final int SDXL_TIME_IDS = MicroConditioning.TIME_IDS;

    private static double unetStepSeconds(StableDiffusionModel model, Inputs in, Options options) {
        UNetConfig unet = model.unet().config();
        return median(options, model.manager(), m -> {
            NDArray x = m.create(in.sample(), new Shape(2, unet.inChannels(), in.latent(), in.latent()));
            float[] t = {TIMESTEP, TIMESTEP};
            NDArray c = m.create(in.context(), new Shape(2, in.tokens(), unet.crossAttentionDim()));
            UNetConditioning conditioning = in.textEmbeds() == null ? UNetConditioning.of(c)
                    : new UNetConditioning(c, m.create(in.textEmbeds(), new Shape(2, in.textEmbeds().length / 2)),
                            m.create(in.timeIds(), new Shape(2, SDXL_TIME_IDS)));
            return () -> model.unet().forward(x, t, conditioning);
        });
    }

    /**
     * The cost of LoRAs at one size: a U-Net step (guided, two rows) with 0 and with each of
     * {@code counts} random LoRAs run beside the layers ({@link RuntimeLoras}), and the time to merge one
     * into the weights and to take it out again ({@link LoraMerger}, {@link AppliedLoras#remove}); a merged
     * LoRA's step costs what a plain step costs. The LoRAs patch what kohya's scripts train by default:
     * every attention projection, feed-forward and proj_in/proj_out of the U-Net, at {@code rank}.
     *
     * @return seconds by name: {@code lora_unet_step_s.<px>.<n>}, {@code lora_merge_s.<px>}, {@code lora_remove_s.<px>}
     */
    public static Map<String, Double> loraCosts(StableDiffusionModel model, int size, List<Integer> counts, int rank, Options options) {
        Inputs in = Inputs.random(model, size / model.vaeScaleFactor(), model.tokenizer().encode(PROMPT).length,
                new SplittableRandom(options.seed()));
        SplittableRandom random = new SplittableRandom(options.seed() + 1);
        int most = counts.stream().mapToInt(Integer::intValue).max().orElse(0);
        List<LoraFile> loras = new ArrayList<>();
        for (int i = 0; i < Math.max(1, most); i++) {
            loras.add(randomLora(model, rank, random));
        }
        Map<String, Double> figures = new LinkedHashMap<>();
        figures.put("lora_rank." + size, (double) rank);
        figures.put("lora_modules." + size, (double) loras.get(0).modules().size());
        figures.put("lora_mib." + size, loras.get(0).byteSize() / (double) (1 << 20));
        figures.put("lora_unet_step_s." + size + ".0", unetStepSeconds(model, in, options));
        for (int count : counts) {
            try (NDManager uploads = model.manager().newSubManager()) {
                List<RuntimeLoras.Use> uses = new ArrayList<>();
                for (LoraFile lora : loras.subList(0, count)) {
                    uses.add(new RuntimeLoras.Use(RuntimeLora.upload(lora, LoraMerger.networks(model), uploads), 0.8f, 0.8f));
                }
                Map<Parameter, List<LowRankBranch>> branches = RuntimeLoras.unetBranches(List.of(new RuntimeLoras.Rows(2, uses)), uploads);
                figures.put("lora_unet_step_s." + size + "." + count,
                        LowRankBranches.during(branches, () -> unetStepSeconds(model, in, options)));
            }
        }
        double[] merge = new double[options.repeats()];
        double[] remove = new double[options.repeats()];
        for (int i = -options.warmups(); i < options.repeats(); i++) {
            long start = System.nanoTime();
            AppliedLoras applied = LoraMerger.merge(model, List.of(WeightedLora.of(loras.get(0), 0.8f)));
            long merged = System.nanoTime();
            applied.remove();
            long removed = System.nanoTime();
            if (i >= 0) {
                merge[i] = (merged - start) / 1e9;
                remove[i] = (removed - merged) / 1e9;
            }
        }
        figures.put("lora_merge_s." + size, median(merge));
        figures.put("lora_remove_s." + size, median(remove));
        return figures;
    }

    /** A random LoRA (down N(0, 1/in), up N(0, 0.01), alpha = rank) on the U-Net weights kohya's scripts patch by default. */
    private static LoraFile randomLora(StableDiffusionModel model, int rank, SplittableRandom random) {
        java.util.regex.Pattern trained = java.util.regex.Pattern.compile(
                ".*(attn[12]\\.to_(q|k|v|out\\.0)|ff\\.net\\.0\\.proj|ff\\.net\\.2|proj_in|proj_out)\\.weight");
        List<LoraModule> modules = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : model.unet().namedParameters().entrySet()) {
            long[] shape = e.getValue().shape().getShape();
            boolean linear = shape.length == 2;
            boolean pointwise = shape.length == 4 && shape[2] == 1 && shape[3] == 1;
            if (!trained.matcher(e.getKey()).matches() || !(linear || pointwise)) {
                continue;
            }
            int out = Math.toIntExact(shape[0]);
            int inFeatures = Math.toIntExact(shape[1]);
            float[] down = normal(random, (long) rank * inFeatures);
            float[] up = normal(random, (long) out * rank);
            float downScale = (float) (1 / Math.sqrt(inFeatures));
            for (int k = 0; k < down.length; k++) {
                down[k] *= downScale;
            }
            for (int k = 0; k < up.length; k++) {
                up[k] *= 0.01f;
            }
            modules.add(new LoraModule(LoraNetwork.UNET, e.getKey(), shape, "random_" + e.getKey(),
                    linear ? LoraKind.LINEAR : LoraKind.CONV1X1, rank, rank, down, up));
        }
        return new LoraFile(java.nio.file.Path.of("random-rank" + rank + ".safetensors"), Map.of(), modules);
    }

    private static double vaeDecodeSeconds(StableDiffusionModel model, Inputs in, Options options) {
        return median(options, model.manager(), m -> {
            NDArray z = m.create(in.latents(), new Shape(1, model.vae().config().latentChannels(), in.latent(), in.latent()));
            return () -> model.vae().decode(z, VaeTiling.OFF);   // untiled, as the pipeline decodes an image
        });
    }

    /**
     * Figures of one VAE decode at a large image size.
     *
     * @param size image side in pixels
     * @param tiled whether the decode ran in tiles
     * @param seconds median seconds of one decode
     * @param peakRssGib peak RSS over the decodes (whole model loaded)
     * @param activationsGib that peak less the RSS before the first decode: the decode's activations
     *     (and whatever the allocator kept of them)
     */
    public record DecodeFigures(int size, boolean tiled, double seconds, double peakRssGib, double activationsGib) {

        /** {@code vae_decode_tiled_s.<size>}, {@code vae_decode_tiled_peak_rss_gib.<size>}, {@code vae_decode_tiled_activations_gib.<size>} ({@code untiled} when not tiled). */
        public Map<String, Double> named() {
            String name = tiled ? "vae_decode_tiled" : "vae_decode_untiled";
            Map<String, Double> out = new LinkedHashMap<>();
            out.put(name + "_s." + size, seconds);
            out.put(name + "_peak_rss_gib." + size, peakRssGib);
            out.put(name + "_activations_gib." + size, activationsGib);
            return out;
        }
    }

    /**
     * Times a decode of seeded latents [1, latent channels, s/f, s/f] at image size {@code size}, in
     * tiles when {@code tiling} says so for that size, with the peak RSS (reset first, where the
     * kernel allows) over its calls.
     */
    public static DecodeFigures vaeDecode(StableDiffusionModel model, int size, VaeTiling tiling, Options options) {
        int factor = model.vaeScaleFactor();
        if (size <= 0 || size % factor != 0) {
            throw new IllegalArgumentException("image size " + size + " is not a positive multiple of " + factor);
        }
        int latent = size / factor;
        int channels = model.vae().config().latentChannels();
        float[] values = normal(new SplittableRandom(options.seed()), (long) channels * latent * latent);
        System.gc();
        MemoryStatus.resetPeak();
        double before = MemoryStatus.rssGib();
        double seconds = median(options, model.manager(), m -> {
            NDArray z = m.create(values, new Shape(1, channels, latent, latent));
            return () -> model.vae().decode(z, tiling);
        });
        double peak = MemoryStatus.peakRssGib();
        return new DecodeFigures(size, tiling.tiles(latent, latent, factor), seconds, peak, peak - before);
    }

    /**
     * Median seconds of one whole generation: one image at the model's default size, {@code steps}
     * steps of Euler with guidance 7.5 (so every step is a batch-2 U-Net call), text encoding and
     * VAE decode included, PNG encoding excluded; {@code options.warmups()} untimed generations first.
     */
    public static double imageSeconds(StableDiffusionModel model, int steps, Options options) {
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        double[] seconds = new double[options.repeats()];
        for (int i = -options.warmups(); i < options.repeats(); i++) {
            long start = System.nanoTime();
            pipeline.generate(imageRequest(steps, options.seed() + i), (step, total, preview) -> { }, () -> false);
            if (i >= 0) {
                seconds[i] = (System.nanoTime() - start) / 1e9;
            }
        }
        return median(seconds);
    }

    /**
     * Resident memory and the model manager's array count over a long run of generations. A leak
     * shows as growth from the baseline (after generation {@code baselineGeneration}, once
     * allocator caches have warmed up) to the end.
     *
     * @param generations how many images were generated
     * @param baselineGeneration the generation after which the baseline was taken (50, or half a
     *                           shorter soak)
     * @param baselineRssGib RSS after the baseline generation, in GiB
     * @param endRssGib RSS after the last generation
     * @param maxRssGib the highest RSS seen after any generation
     * @param baselineModelArrays NDArrays in the model's manager after the baseline generation
     * @param endModelArrays NDArrays in the model's manager after the last generation
     */
    public record Soak(int generations, int baselineGeneration, double baselineRssGib, double endRssGib,
                       double maxRssGib, int baselineModelArrays, int endModelArrays) {

        /** The end RSS as a percentage change from the baseline. */
        public double rssChangePercent() {
            return 100 * (endRssGib - baselineRssGib) / baselineRssGib;
        }
    }

    /** Generates {@code generations} images one after another ({@code steps} steps each) and tracks memory. */
    public static Soak soak(StableDiffusionModel model, int generations, int steps, long seed) {
        if (generations < 2) {
            throw new IllegalArgumentException("a soak needs at least 2 generations, got " + generations);
        }
        int baselineGeneration = Math.min(50, generations / 2);
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        double baselineRss = Double.NaN;
        int baselineArrays = -1;
        double rss = Double.NaN;
        double maxRss = 0;
        for (int generation = 1; generation <= generations; generation++) {
            pipeline.generate(imageRequest(steps, seed + generation), (step, total, preview) -> { }, () -> false);
            rss = MemoryStatus.rssGib();
            maxRss = Math.max(maxRss, rss);
            if (generation == baselineGeneration) {
                baselineRss = rss;
                baselineArrays = modelArrays(model);
            }
        }
        return new Soak(generations, baselineGeneration, baselineRss, rss, maxRss, baselineArrays, modelArrays(model));
    }

    /**
     * Step caching's trade at one image size and interval: the time of a whole denoising loop
     * (steps only: text encoding and VAE decode excluded) uncached and with {@code cache_interval}
     * N, and how far the decoded image moved from the uncached one.
     *
     * @param uncachedSeconds the loop's seconds without caching
     * @param cachedSeconds the loop's seconds at interval N
     * @param meanAbsLevels the mean absolute difference of the decoded images over every colour
     *     channel of every pixel, in levels 0-255
     * @param maxAbsLevels the largest such difference
     * @param flopSpeedup the loop's FLOPs uncached over cached ({@link FlopCounter#unet} and
     *     {@link FlopCounter#unetShallow}): the speed-up if time followed FLOPs
     */
    public record CacheFigures(int size, int interval, double uncachedSeconds, double cachedSeconds, double meanAbsLevels,
                               int maxAbsLevels, double flopSpeedup) {

        /** Uncached loop time over cached loop time. */
        public double speedup() {
            return uncachedSeconds / cachedSeconds;
        }

        /**
         * {@code cache_loop_s.<px>.<N>}, {@code cache_speedup.<px>.<N>}, {@code cache_image_mean_abs.<px>.<N>},
         * {@code cache_image_max_abs.<px>.<N>}.
         */
        public Map<String, Double> named() {
            String at = "." + size + "." + interval;
            Map<String, Double> out = new LinkedHashMap<>();
            out.put("cache_loop_s" + at, cachedSeconds);
            out.put("cache_speedup" + at, speedup());
            out.put("cache_flop_speedup" + at, flopSpeedup);
            out.put("cache_image_mean_abs" + at, meanAbsLevels);
            out.put("cache_image_max_abs" + at, (double) maxAbsLevels);
            return out;
        }
    }

    /**
     * Step caching in one run: one image of {@code size} px, {@code steps} steps of Euler with
     * guidance 7.5 (batch-2 U-Net calls), seed {@code seed}, denoised once without caching and once at
     * each of {@code intervals}, after an untimed warm-up of one full and one shallow step. Only the
     * denoising loop is timed; each image is decoded afterwards and compared with the uncached one.
     */
    public static List<CacheFigures> stepCache(StableDiffusionModel model, int size, int steps, List<Integer> intervals, long seed) {
        if (size <= 0 || size % model.vaeScaleFactor() != 0) {
            throw new IllegalArgumentException("image size " + size + " is not a positive multiple of " + model.vaeScaleFactor());
        }
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        GenerationRequest base = imageRequest(steps, seed).toBuilder().size(size, size).build();
        denoise(pipeline, imageRequest(2, seed).toBuilder().size(size, size).cacheInterval(2).build());   // warm-up
        Denoised uncached = denoise(pipeline, base);
        List<CacheFigures> figures = new ArrayList<>();
        UNetConfig unet = model.unet().config();
        int latent = size / model.vaeScaleFactor();
        int tokens = model.tokenizer().encode(PROMPT).length;
        double full = FlopCounter.unet(unet, 2, latent, latent, tokens);
        double shallow = FlopCounter.unetShallow(unet, 2, latent, latent, tokens);
        for (int interval : intervals) {
            Denoised cached = denoise(pipeline, base.toBuilder().cacheInterval(interval).build());

            int fullSteps = (steps + interval - 1) / interval;
            double flopSpeedup = steps * full / (fullSteps * full + (steps - fullSteps) * shallow);
            figures.add(new CacheFigures(size, interval, uncached.seconds(), cached.seconds(),
                    ImageMetrics.meanAbsoluteDifference(uncached.image(), cached.image()),
                    ImageMetrics.maxAbsoluteDifference(uncached.image(), cached.image()), flopSpeedup));
        }
        return figures;
    }

    /**
     * Float32 against bfloat16 matrix products ({@link ComputePrecision}) in one run, at image size
     * {@code px}: the U-Net step and the VAE decode timed with each, alternating, {@code rounds}
     * times (each figure the median of {@code options.repeats()} calls), so that a change in the
     * machine's CPU share falls on both; then one seeded {@code steps}-step image with each as
     * {@link StableDiffusionModel#useComputePrecision} runs it (text encoders and U-Net; the VAE,
     * timed here with both for comparison, decodes with float32 products), and how far the bfloat16
     * image is from the float32 one.
     *
     * @param unetSeconds by product type ({@code float32}, {@code bfloat16}): the median over the rounds
     * @param decodeSeconds the same for the VAE decode
     * @param meanAbsLevels mean |bf16 image - f32 image| over every channel of every pixel, levels 0-255
     * @param maxAbsLevels the largest such difference
     */
    public record ComputeComparison(int size, Map<String, Double> unetSeconds, Map<String, Double> decodeSeconds,
                                    double meanAbsLevels, int maxAbsLevels) {

        /**
         * {@code compute_unet_step_s.<px>.<type>}, {@code compute_vae_decode_s.<px>.<type>},
         * {@code compute_unet_speedup.<px>} and {@code compute_vae_speedup.<px>} (float32 seconds over
         * bfloat16 seconds), {@code compute_image_mean_abs.<px>}, {@code compute_image_max_abs.<px>}.
         */
        public Map<String, Double> named() {
            Map<String, Double> named = new LinkedHashMap<>();
            unetSeconds.forEach((type, seconds) -> named.put("compute_unet_step_s." + size + "." + type, seconds));
            decodeSeconds.forEach((type, seconds) -> named.put("compute_vae_decode_s." + size + "." + type, seconds));
            named.put("compute_unet_speedup." + size, unetSeconds.get("float32") / unetSeconds.get("bfloat16"));
            named.put("compute_vae_speedup." + size, decodeSeconds.get("float32") / decodeSeconds.get("bfloat16"));
            named.put("compute_image_mean_abs." + size, meanAbsLevels);
            named.put("compute_image_max_abs." + size, (double) maxAbsLevels);
            return named;
        }
    }

    /** See {@link ComputeComparison}; leaves the model's kernels as they were. */
    public static ComputeComparison computeComparison(StableDiffusionModel model, int px, int steps, int rounds, Options options) {
        if (px <= 0 || px % model.vaeScaleFactor() != 0) {
            throw new IllegalArgumentException("image size " + px + " is not a positive multiple of " + model.vaeScaleFactor());
        }
        List<ComputePrecision> types = List.of(ComputePrecision.FLOAT32, ComputePrecision.BFLOAT16);
        ComputePrecision used = model.computePrecision();
        Kernels vaeKernels = model.vae().kernels();
        int tokens = model.tokenizer().encode(PROMPT).length;
        Inputs inputs = Inputs.random(model, px / model.vaeScaleFactor(), tokens, new SplittableRandom(options.seed()));
        Map<String, double[]> unet = new LinkedHashMap<>();
        Map<String, double[]> decode = new LinkedHashMap<>();
        Map<String, BufferedImage> images = new LinkedHashMap<>();
        try {
            for (int round = 0; round < rounds; round++) {
                for (ComputePrecision type : types) {
                    model.useComputePrecision(type);
                    model.vae().useKernels(vaeKernels.withProducts(type));
                    unet.computeIfAbsent(type.dtypeName(), t -> new double[rounds])[round] = unetStepSeconds(model, inputs, options);
                    decode.computeIfAbsent(type.dtypeName(), t -> new double[rounds])[round] = vaeDecodeSeconds(model, inputs, options);
                }
            }
            // the images as the service makes them: the VAE with float32 products
            model.vae().useKernels(vaeKernels);
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            GenerationRequest request = imageRequest(steps, options.seed()).toBuilder().size(px, px).build();
            for (ComputePrecision type : types) {
                model.useComputePrecision(type);
                images.put(type.dtypeName(), denoise(pipeline, request).image());
            }
        } finally {
            model.useComputePrecision(used);
            model.vae().useKernels(vaeKernels);
        }
        Map<String, Double> unetMedians = new LinkedHashMap<>();
        unet.forEach((type, seconds) -> unetMedians.put(type, median(seconds)));
        Map<String, Double> decodeMedians = new LinkedHashMap<>();
        decode.forEach((type, seconds) -> decodeMedians.put(type, median(seconds)));
        BufferedImage f32 = images.get("float32");
        BufferedImage bf16 = images.get("bfloat16");
        return new ComputeComparison(px, unetMedians, decodeMedians, ImageMetrics.meanAbsoluteDifference(f32, bf16),
                ImageMetrics.maxAbsoluteDifference(f32, bf16));
    }

    private record Denoised(double seconds, BufferedImage image) {}

    /** Runs {@code request}'s denoising loop (timed) and decodes its image (untimed). */
    private static Denoised denoise(StableDiffusionPipeline pipeline, GenerationRequest request) {
        try (GenerationJob job = pipeline.start(request, SeededNoise.consecutive(request.seed(), request.batchSize()),
                GenerationListener.NONE, () -> false)) {
            long start = System.nanoTime();
            while (!job.isFinished()) {
                pipeline.step(List.of(job));
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            return new Denoised(seconds, pipeline.finish(job).get(0).image());
        }
    }

    private static int modelArrays(StableDiffusionModel model) {
        return ((BaseNDManager) model.manager()).getManagedArrays().size();
    }

    private static GenerationRequest imageRequest(int steps, long seed) {
        return GenerationRequest.builder(PROMPT).sampler(Sampler.EULER).steps(steps).guidanceScale(7.5).seed(seed).build();
    }

    /**
     * Median seconds of {@code options.repeats()} calls after {@code options.warmups()} untimed
     * ones. {@code prepare} creates a call's inputs in the call's own child manager and returns the
     * call; only the call is timed. PyTorch's CPU ops are synchronous, so the call's return means
     * its work is done.
     */
    private static double median(Options options, NDManager parent,
                                 Function<NDManager, Supplier<NDArray>> prepare) {
        double[] seconds = new double[options.repeats()];
        for (int i = -options.warmups(); i < options.repeats(); i++) {
            try (NDManager call = parent.newSubManager()) {
                Supplier<NDArray> work = prepare.apply(call);
                long start = System.nanoTime();
                NDArray out = work.get();
                long end = System.nanoTime();
                if (out.getDataType() != DataType.FLOAT32) {
                    throw new IllegalStateException("benchmark call returned " + out.getDataType());
                }
                if (i >= 0) {
                    seconds[i] = (end - start) / 1e9;
                }
            }
        }
        return median(seconds);
    }

    private static double median(double[] seconds) {
        Arrays.sort(seconds);
        int n = seconds.length;
        return n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
    }

    /** {@code count} standard normal values from {@code random}. */
    static float[] normal(SplittableRandom random, long count) {
        float[] values = new float[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }
}
