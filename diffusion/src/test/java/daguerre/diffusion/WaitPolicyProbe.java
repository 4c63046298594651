package daguerre.diffusion;

import ai.djl.ndarray.NDManager;

/** Loads libtorch through {@link DjlRuntime} and runs one op, so that OpenMP starts; run in a child JVM by {@link DjlRuntimeTest}. */
public final class WaitPolicyProbe {

    private WaitPolicyProbe() {}

    public static void main(String[] args) {
        try (NDManager manager = DjlRuntime.newManager()) {
            manager.ones(new ai.djl.ndarray.types.Shape(256, 256)).matMul(manager.ones(new ai.djl.ndarray.types.Shape(256, 256)));
        }
        System.out.println("policy " + DjlRuntime.ompWaitPolicy() + " threads " + DjlRuntime.threads());
    }
}
