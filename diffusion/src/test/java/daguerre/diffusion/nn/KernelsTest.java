package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import daguerre.diffusion.DjlRuntime;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class KernelsTest {

    @Test
    void aPassUsesItsOwnSetAndRestoresTheOuterOne() {
        assertTrue(Kernels.fuse(FusedOps.Kernel.LINEAR), "outside any pass every kernel is in use");
        Kernels withoutLinear = Kernels.ALL.without(FusedOps.Kernel.LINEAR);
        boolean[] seen = new boolean[3];
        withoutLinear.apply(() -> {
            seen[0] = Kernels.fuse(FusedOps.Kernel.LINEAR);
            seen[1] = Kernels.fuse(FusedOps.Kernel.ATTENTION);
            seen[2] = Kernels.NONE.apply(() -> Kernels.fuse(FusedOps.Kernel.ATTENTION));
            return null;
        });
        assertFalse(seen[0]);
        assertTrue(seen[1]);
        assertFalse(seen[2]);
        assertTrue(Kernels.fuse(FusedOps.Kernel.LINEAR), "the outer set is back");
        assertThrows(IllegalStateException.class, () -> Kernels.NONE.apply(() -> {
            throw new IllegalStateException("a failing pass");
        }));
        assertTrue(Kernels.fuse(FusedOps.Kernel.LINEAR), "restored after a failing pass too");
    }

    @Test
    void anotherThreadsPassDoesNotSeeThisOnes() throws Exception {
        boolean other = Kernels.NONE.apply(() -> CompletableFuture.supplyAsync(() -> Kernels.fuse(FusedOps.Kernel.SILU)).join());
        assertTrue(other, "a pass on one thread (a benchmark's ablation) leaves another's (a service's) alone");
    }

    @Test
    void aNetworkBeingTrainedRunsWithoutFusedKernels() {
        try (NDManager manager = DjlRuntime.newManager()) {
            Linear layer = new Linear(2, 2, true);
            layer.namedParameters().values().forEach(p -> p.set(manager.zeros(p.shape())));
            assertTrue(Kernels.ALL.run(layer, () -> Kernels.fuse(FusedOps.Kernel.LINEAR)), "inference fuses");
            layer.namedParameters().values().forEach(p -> p.value().setRequiresGradient(true));
            assertTrue(layer.isTraining());
            for (FusedOps.Kernel kernel : FusedOps.Kernel.values()) {
                assertFalse(Kernels.ALL.run(layer, () -> Kernels.fuse(kernel)), kernel + " while the network trains");
            }
        }
    }

    @Test
    void withoutRemovesOneKernel() {
        assertEquals(FusedOps.Kernel.values().length - 1, Kernels.ALL.without(FusedOps.Kernel.UPSAMPLE).enabled().size());
        assertEquals(Kernels.NONE, Kernels.NONE.without(FusedOps.Kernel.UPSAMPLE));
    }
}
