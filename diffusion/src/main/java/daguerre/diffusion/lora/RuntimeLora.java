package daguerre.diffusion.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraKind;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A LoRA's factors as arrays beside a model's layers, to run unmerged ({@link RuntimeLoras}): the
 * model's weights are never changed, so jobs with different LoRAs can share one pass.
 *
 * @param lora the file the factors come from (read against the model)
 * @param factors one per module, in the file's order
 */
public record RuntimeLora(LoraFile lora, List<Factors> factors) {

    /**
     * One module's factors, shaped for the layer it patches (see {@link daguerre.diffusion.nn.LowRankBranch}).
     *
     * @param weight the patched layer's weight (the key of its branches)
     * @param network the network of that layer
     * @param down linear [r, in]; convolution [r, in, kh, kw]
     * @param up (alpha / r) * up: linear [out, r]; convolution [out, r, 1, 1]
     */
    public record Factors(Parameter weight, LoraNetwork network, NDArray down, NDArray up) {}

    public RuntimeLora {
        factors = List.copyOf(factors);
    }

    /**
     * Uploads {@code lora}'s factors into {@code manager} against the weights of {@code networks}, with
     * alpha / r folded into up (a power of two in most files, then exact); an error naming the key if
     * the model has no such weight or another shape.
     */
    public static RuntimeLora upload(LoraFile lora, Map<LoraNetwork, Module> networks, NDManager manager) {
        LoraTargets targets = new LoraTargets(networks);
        List<Factors> factors = new ArrayList<>();
        for (LoraModule module : lora.modules()) {
            Parameter weight = targets.of(lora, module);
            long[] target = module.targetShape();
            Shape downShape = module.kind() == LoraKind.LINEAR ? new Shape(module.rank(), target[1])
                    : module.kind() == LoraKind.CONV1X1 ? new Shape(module.rank(), target[1], 1, 1)
                    : new Shape(module.rank(), target[1], target[2], target[3]);
            Shape upShape = module.kind() == LoraKind.LINEAR ? new Shape(target[0], module.rank())
                    : new Shape(target[0], module.rank(), 1, 1);
            float[] up = module.up().clone();
            float scale = module.alphaOverRank();
            for (int i = 0; i < up.length; i++) {
                up[i] *= scale;
            }
            factors.add(new Factors(weight, module.network(), manager.create(module.down(), downShape), manager.create(up, upShape)));
        }
        return new RuntimeLora(lora, factors);
    }
}
