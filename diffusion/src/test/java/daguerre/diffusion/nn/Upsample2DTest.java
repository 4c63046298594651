package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.DjlRuntime;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Upsample2DTest {

    @Test
    void nearestDoublesByRepeatingEachPixel() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 2, 2));
            float[] expected = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
            assertArrayEquals(expected, Upsample2D.nearest(x, 4, 4).toFloatArray());
        }
    }

    @Test
    void nearestToAnOddSizePicksTorchsSourceRows() {
        try (NDManager manager = NDManager.newBaseManager()) {
            // 2 x 3 -> 3 x 5: torch picks rows floor(o * 2/3) = 0, 0, 1 and columns floor(o * 3/5) = 0, 0, 1, 1, 2
            NDArray x = manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(1, 1, 2, 3));
            float[] expected = {1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6};
            assertArrayEquals(expected, Upsample2D.nearest(x, 3, 5).toFloatArray());
        }
    }

    /**
     * The banded upsample + convolution gives the whole map's values for every band size (1 row,
     * odd, even, more than the map) and input height (odd and even), in either output layout.
     */
    @Test
    void bandedUpsamplingMatchesTheWholeMap() {
        try (NDManager manager = DjlRuntime.newManager()) {
            Upsample2D upsample = new Upsample2D(3);
            Initializers.initialize(upsample, 5, manager);
            SplittableRandom random = new SplittableRandom(9);
            for (long height : new long[] {5, 6}) {
                float[] values = new float[(int) (2 * 3 * height * 7)];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) random.nextDouble(-2, 2);
                }
                NDArray x = manager.create(values, new Shape(2, 3, height, 7));
                float[] whole = upsample.forward(x).toFloatArray();
                float scale = 0;
                for (float value : whole) {
                    scale = Math.max(scale, Math.abs(value));
                }
                for (long rows : new long[] {1, 3, 4, 2 * height + 1}) {
                    for (boolean channelsLast : new boolean[] {false, true}) {
                        NDArray banded = upsample.forwardBanded(channelsLast ? FusedOps.channelsLast(x) : x, channelsLast, rows);
                        assertArrayEquals(new long[] {2, 3, 2 * height, 14}, banded.getShape().getShape());
                        // libtorch may sum a band's 3x3 windows in another order: float32 rounding only
                        assertArrayEquals(whole, FusedOps.channelsFirst(banded).toFloatArray(), 1e-5f * scale,
                                "height " + height + ", bands of " + rows + " rows, channels-last " + channelsLast);
                    }
                }
                assertTrue(scale > 0.1f, "the convolution's output is not trivial");
            }
        }
    }
}
