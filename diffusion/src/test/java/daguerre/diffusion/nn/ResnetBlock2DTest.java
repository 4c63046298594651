package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ResnetBlock2DTest {

    /**
     * The banded block gives the whole block's values, with and without a 1x1 shortcut (fewer
     * output channels than input ones, so the output is written over the start of the input's
     * memory), for two batch items, odd and even heights, every band size (1 row, odd, even, more
     * than the map) and either input layout.
     */
    @Test
    void bandedBlockMatchesTheWholeBlock() {
        try (NDManager manager = DjlRuntime.newManager()) {
            SplittableRandom random = new SplittableRandom(4);
            for (int[] channels : new int[][] {{8, 4}, {4, 4}}) {
                ResnetBlock2D block = new ResnetBlock2D(channels[0], channels[1], 0, 2, 1e-6f);
                Initializers.initialize(block, 3, manager);
                for (long height : new long[] {5, 6}) {
                    float[] values = new float[(int) (2 * channels[0] * height * 7)];
                    for (int i = 0; i < values.length; i++) {
                        values[i] = (float) random.nextDouble(-2, 2);
                    }
                    NDArray x = manager.create(values, new Shape(2, channels[0], height, 7));
                    float[] whole = block.forward(x, null).toFloatArray();
                    float scale = 0;
                    for (float value : whole) {
                        scale = Math.max(scale, Math.abs(value));
                    }
                    assertTrue(scale > 0.1f, "the block's output is not trivial");
                    for (long rows : new long[] {1, 2, 3, height + 1}) {
                        // the block's activations are channels-last in the decoder; any other layout is made so first
                        NDArray input = rows == 2 ? x.duplicate() : FusedOps.channelsLast(x);
                        NDArray banded = block.forwardBanded(input, rows);
                        assertArrayEquals(new long[] {2, channels[1], height, 7}, banded.getShape().getShape());
                        // libtorch may sum a band's 3x3 windows in another order: float32 rounding only
                        assertArrayEquals(whole, FusedOps.channelsFirst(banded).toFloatArray(), 1e-5f * scale,
                                channels[0] + " -> " + channels[1] + " channels, height " + height + ", bands of " + rows + " rows");
                        assertThrows(IllegalStateException.class, input::toFloatArray, "the block consumes its input");
                    }
                }
            }
        }
    }
}
