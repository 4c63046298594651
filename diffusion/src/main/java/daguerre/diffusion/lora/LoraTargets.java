package daguerre.diffusion.lora;

import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;

/** The weights of a model that a LoRA's modules patch, checked by name and shape: one lookup for merged and runtime LoRAs. */
final class LoraTargets {

    private final Map<LoraNetwork, Module> networks;
    private final Map<LoraNetwork, Map<String, Parameter>> named = new EnumMap<>(LoraNetwork.class);

    LoraTargets(Map<LoraNetwork, Module> networks) {
        this.networks = networks;
    }

    /** The parameter {@code module} patches; an error naming the file and key if the model has none of that shape. */
    Parameter of(LoraFile lora, LoraModule module) {
        Map<String, Parameter> parameters = named.computeIfAbsent(module.network(),
                n -> networks.containsKey(n) ? networks.get(n).namedParameters() : Map.of());
        Parameter p = parameters.get(module.target());
        if (p == null) {
            throw new IllegalArgumentException(lora.path() + ": module '" + module.sourceKey() + "' patches "
                    + module.network() + " " + module.target()
                    + ", which this model does not have (was the LoRA read against another model?)");
        }
        if (!Arrays.equals(p.shape().getShape(), module.targetShape())) {
            throw new IllegalArgumentException(lora.path() + ": module '" + module.sourceKey() + "' is for "
                    + module.target() + " of shape " + Arrays.toString(module.targetShape()) + ", but this model's is "
                    + p.shape() + " (was the LoRA read against another model?)");
        }
        return p;
    }
}
