package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

/** The feed-forward of a long sequence, in chunks of positions, equals the whole pass. */
class FeedForwardTest {

    @Test
    void chunkedLongSequenceEqualsTheWholePass() {
        try (NDManager manager = NDManager.newBaseManager()) {
            FeedForward ff = new FeedForward(8, 4);
            Initializers.initialize(ff, 3, manager);
            long positions = 2L * FeedForward.CHUNK_POSITIONS + 5;   // two whole chunks and a short one
            try (NDManager request = manager.newSubManager()) {
                NDArray x = request.randomNormal(new Shape(2, positions, 8));
                int before = request.getManagedArrays().size();
                float[] chunked = ff.forward(x).toFloatArray();
                assertEquals(before + 1, request.getManagedArrays().size(), "chunks left temporaries behind");
                float[] whole = ff.forwardWhole(x).toFloatArray();
                assertEquals(whole.length, chunked.length);
                double max = 0;
                for (int i = 0; i < whole.length; i++) {
                    max = Math.max(max, Math.abs(whole[i] - chunked[i]));
                }
                // the same per-position arithmetic: only the GEMM's blocking over rows may differ
                assertTrue(max <= 1e-5, "chunked feed-forward differs by " + max);
            }
        }
    }
}
