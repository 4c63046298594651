package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
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
}
