package daguerre.diffusion.lora;

import daguerre.diffusion.nn.Module;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraNetwork;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads LoRA files against a model and merges them into its weights, reversibly
 * ({@link AppliedLoras}): {@code W' = W + sum_j s_j (alpha_j / r_j) up_j @ down_j} ({@link LoraMath}).
 *
 * <p>A merge changes the weights every pass of the model reads: the caller runs only the jobs that
 * asked for this LoRA set between {@link #merge} and {@link AppliedLoras#remove} (jobs batched by
 * LoRA set), and never merges or removes while a pass is running.
 */
public final class LoraMerger {

    private LoraMerger() {}

    /** The networks of {@code model} a LoRA may patch: U-Net, text encoder, SDXL's second text encoder. */
    public static Map<LoraNetwork, Module> networks(StableDiffusionModel model) {
        Map<LoraNetwork, Module> networks = new EnumMap<>(LoraNetwork.class);
        networks.put(LoraNetwork.UNET, model.unet());
        networks.put(LoraNetwork.TEXT_ENCODER, model.textEncoder());
        model.secondTextEncoder().ifPresent(second -> networks.put(LoraNetwork.TEXT_ENCODER_2, second.encoder()));
        return networks;
    }

    /** Every parameter's canonical key and shape, per network: what {@link LoraFile#read} matches names against. */
    public static Map<LoraNetwork, Map<String, long[]>> parameterShapes(Map<LoraNetwork, Module> networks) {
        Map<LoraNetwork, Map<String, long[]>> shapes = new EnumMap<>(LoraNetwork.class);
        networks.forEach((network, module) -> {
            Map<String, long[]> keys = new LinkedHashMap<>();
            module.namedParameters().forEach((key, p) -> keys.put(key, p.shape().getShape()));
            shapes.put(network, keys);
        });
        return shapes;
    }

    /** Reads the LoRA {@code file} against {@code model}'s parameter names (see {@link LoraFile}). */
    public static LoraFile read(Path file, StableDiffusionModel model) throws IOException {
        return read(file, networks(model));
    }

    /** Reads the LoRA {@code file} against the parameter names of {@code networks}. */
    public static LoraFile read(Path file, Map<LoraNetwork, Module> networks) throws IOException {
        return LoraFile.read(file, parameterShapes(networks));
    }

    /** Merges {@code loras} into {@code model}'s weights; {@link AppliedLoras#remove} puts the originals back. */
    public static AppliedLoras merge(StableDiffusionModel model, List<WeightedLora> loras) {
        return merge(networks(model), loras);
    }

    /**
     * Merges {@code loras} into the weights of {@code networks}, in float32 whatever the weights are
     * kept in: each touched weight is widened, every update is added in list order, and the sum is
     * rounded to the weight's own type into a new array in the weight's manager; the original array
     * is kept aside, untouched, for {@link AppliedLoras#remove}. Updates at weight 0 are skipped, so
     * a LoRA at weight 0 leaves the model's weights as they are. On failure nothing stays changed.
     */
    public static AppliedLoras merge(Map<LoraNetwork, Module> networks, List<WeightedLora> loras) {
        return AppliedLoras.merge(networks, loras);
    }
}
