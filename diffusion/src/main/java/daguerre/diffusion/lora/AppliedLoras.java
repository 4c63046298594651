package daguerre.diffusion.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Parameter;
import daguerre.weights.lora.LoraModule;
import daguerre.weights.lora.LoraNetwork;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRAs merged into a model's weights ({@link LoraMerger#merge}), and the original weight arrays kept
 * aside. {@link #remove} (or {@link #close}) puts those very arrays back, so the base weights return
 * bit for bit: nothing is ever subtracted. Merges may be stacked; they are removed in the reverse order.
 */
public final class AppliedLoras implements AutoCloseable {

    /** One patched weight: the array put in its place, and the original kept aside. */
    private record Patched(String name, Parameter parameter, NDArray merged, NDArray original) {}

    private final List<Patched> patched;
    private boolean removed;

    private AppliedLoras(List<Patched> patched) {
        this.patched = patched;
    }

    static AppliedLoras merge(Map<LoraNetwork, Module> networks, List<WeightedLora> loras) {
        // every update of every LoRA, grouped by the weight it patches, in list order
        Map<String, List<Update>> byTarget = new LinkedHashMap<>();
        Map<String, Parameter> parameters = new LinkedHashMap<>();
        LoraTargets targets = new LoraTargets(networks);
        for (WeightedLora weighted : loras) {
            for (LoraModule module : weighted.lora().modules()) {
                float scale = weighted.weight(module.network());
                if (scale == 0) {
                    continue;
                }
                Parameter p = targets.of(weighted.lora(), module);
                String name = module.network() + " " + module.target();
                parameters.put(name, p);
                byTarget.computeIfAbsent(name, n -> new ArrayList<>()).add(new Update(module, scale));
            }
        }
        AppliedLoras applied = new AppliedLoras(new ArrayList<>());
        try {
            for (Map.Entry<String, List<Update>> e : byTarget.entrySet()) {
                Parameter p = parameters.get(e.getKey());
                NDArray original;
                try (NDManager scratch = p.value().getManager().newSubManager()) {
                    NDArray weight = null;                                   // float32 sum, in scratch
                    for (Update u : e.getValue()) {
                        NDArray delta = LoraMath.delta(LoraMath.up(u.module, scratch), LoraMath.down(u.module, scratch));
                        if (weight == null) {
                            NDArray base = p.float32(delta);                 // the value, or a widened copy in scratch
                            weight = LoraMath.add(base, delta, LoraMath.factor(u.module, u.scale));
                            p.closeIfCopy(base);
                        } else {
                            weight = LoraMath.add(weight, delta, LoraMath.factor(u.module, u.scale));
                        }
                    }
                    original = p.exchange(weight);                          // rounded to the weight's own type, moved out of scratch
                }
                applied.patched.add(new Patched(e.getKey(), p, p.value(), original));
            }
        } catch (RuntimeException e) {
            applied.remove();
            throw e;
        }
        return applied;
    }

    private record Update(LoraModule module, float scale) {}

    /** How many weights the merge changed. */
    public int patchedWeights() {
        return patched.size();
    }

    /** Whether {@link #remove} has run. */
    public boolean isRemoved() {
        return removed;
    }

    /**
     * Puts every original weight array back and frees the merged ones; a second call does nothing.
     * Fails, changing nothing, if a later merge on the same weights is still applied.
     */
    public void remove() {
        if (removed) {
            return;
        }
        for (Patched p : patched) {
            if (p.parameter.value() != p.merged) {
                throw new IllegalStateException(p.name + " was changed after this merge (another merge still applied?): "
                        + "remove merges in the reverse order");
            }
        }
        for (int i = patched.size() - 1; i >= 0; i--) {
            Patched p = patched.get(i);
            p.parameter.restore(p.original);
        }
        removed = true;
    }

    @Override
    public void close() {
        remove();
    }
}
