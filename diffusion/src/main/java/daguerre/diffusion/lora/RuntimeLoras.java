package daguerre.diffusion.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import daguerre.diffusion.nn.LowRankBranch;
import daguerre.diffusion.nn.LowRankBranches;
import daguerre.diffusion.nn.Parameter;
import daguerre.weights.lora.LoraFile;
import daguerre.weights.lora.LoraNetwork;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The branches ({@link LowRankBranches#during}) of one pass shared by several jobs, each with its own
 * LoRAs: the batch rows are the jobs' rows in order, and a LoRA's branch scales row b by the weight
 * the job of row b gives it, 0 in the rows of jobs without it:
 * {@code y_b = W x_b + sum_j s_j[b] (alpha_j / r_j) up_j down_j x_b} (Hu et al. 2021, eq. (3), per row).
 */
public final class RuntimeLoras {

    private RuntimeLoras() {}

    /** A LoRA a job runs, with the weights it gives it ({@code <lora:name:te:unet>}). */
    public record Use(RuntimeLora lora, float unetWeight, float textEncoderWeight) {
        float weight(LoraNetwork network) {
            return network.isTextEncoder() ? textEncoderWeight : unetWeight;
        }
    }

    /** {@code rows} consecutive batch rows (one job's) and the LoRAs they run. */
    public record Rows(int rows, List<Use> loras) {
        public Rows {
            loras = List.copyOf(loras);
        }
    }

    /**
     * The branches for a pass over {@code rows} (in batch order) through the networks {@code networks}
     * accepts: one branch per LoRA file and patched weight, its row scales [B] in {@code manager}. A LoRA
     * file several jobs use runs once, on the factors of the first job that has it; a weight of 0 adds nothing.
     */
    public static Map<Parameter, List<LowRankBranch>> branches(List<Rows> rows, Predicate<LoraNetwork> networks, NDManager manager) {
        int total = rows.stream().mapToInt(Rows::rows).sum();
        // per LoRA file (the cache hands out one instance per file and model): its factors and per-row weights per network
        Map<LoraFile, RuntimeLora> factorsOf = new IdentityHashMap<>();
        Map<LoraFile, Map<LoraNetwork, float[]>> weightsOf = new LinkedHashMap<>();
        int start = 0;
        for (Rows group : rows) {
            for (Use use : group.loras) {
                factorsOf.putIfAbsent(use.lora.lora(), use.lora);
                Map<LoraNetwork, float[]> perNetwork = weightsOf.computeIfAbsent(use.lora.lora(), f -> new LinkedHashMap<>());
                for (LoraNetwork network : LoraNetwork.values()) {
                    float[] weights = perNetwork.computeIfAbsent(network, n -> new float[total]);
                    for (int r = start; r < start + group.rows; r++) {
                        weights[r] += use.weight(network);
                    }
                }
            }
            start += group.rows;
        }
        Map<Parameter, List<LowRankBranch>> branches = new IdentityHashMap<>();
        for (Map.Entry<LoraFile, Map<LoraNetwork, float[]>> e : weightsOf.entrySet()) {
            Map<LoraNetwork, NDArray> scales = new LinkedHashMap<>();
            e.getValue().forEach((network, weights) -> {
                if (networks.test(network) && anyNonZero(weights)) {
                    scales.put(network, manager.create(weights));
                }
            });
            for (RuntimeLora.Factors f : factorsOf.get(e.getKey()).factors()) {
                NDArray rowScales = scales.get(f.network());
                if (rowScales != null) {
                    branches.computeIfAbsent(f.weight(), w -> new ArrayList<>()).add(new LowRankBranch(f.down(), f.up(), rowScales));
                }
            }
        }
        return branches;
    }

    /** The text-encoder branches for a job's prompt encoding: every row of every encoder pass gets the job's weights. */
    public static Map<Parameter, List<LowRankBranch>> textEncoderBranches(List<Use> loras, NDManager manager) {
        return branches(List.of(new Rows(1, loras)), LoraNetwork::isTextEncoder, manager);
    }

    /** The U-Net branches of a shared step over {@code rows}. */
    public static Map<Parameter, List<LowRankBranch>> unetBranches(List<Rows> rows, NDManager manager) {
        return branches(rows, network -> network == LoraNetwork.UNET, manager);
    }

    private static boolean anyNonZero(float[] weights) {
        for (float w : weights) {
            if (w != 0) {
                return true;
            }
        }
        return false;
    }
}
