package daguerre.diffusion.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The tile layout and blend weights of {@link VaeTiling}, without tensors. */
class VaeTilingTest {

    @Test
    void anAxisNoLongerThanATileIsOneTile() {
        assertArrayEquals(new int[] {0}, VaeTiling.origins(1, 64, 16));
        assertArrayEquals(new int[] {0}, VaeTiling.origins(64, 64, 16));
        assertEquals(40, VaeTiling.ON.span(40));
        // one more pixel than a tile: two tiles, each just long enough to overlap by the least overlap
        assertEquals(41, VaeTiling.ON.span(65));
    }

    @Test
    void tilesAreSpreadEvenlyFromEdgeToEdge() {
        // 256 latent px (2048 px with an SD VAE): 4 strides of at most 48 cover 256 - 64 = 192
        assertArrayEquals(new int[] {0, 48, 96, 144, 192}, VaeTiling.origins(256, 64, 16));
        // one more pixel than a tile: two tiles of 41, overlapping by 17
        assertArrayEquals(new int[] {0, 24}, VaeTiling.origins(65, 64, 16));
        // 128 latent px (1024 px): three tiles of 54 (not of 64: 1.6 times the pixels, not 2.25)
        assertEquals(54, VaeTiling.span(128, 64, 16));
        assertArrayEquals(new int[] {0, 37, 74}, VaeTiling.origins(128, 64, 16));
        // not multiples: 111 in two tiles of 64; 150 and 149 in three of 61
        assertArrayEquals(new int[] {0, 47}, VaeTiling.origins(111, 64, 16));
        assertArrayEquals(new int[] {0, 44, 89}, VaeTiling.origins(150, 64, 16));
        assertArrayEquals(new int[] {0, 44, 88}, VaeTiling.origins(149, 64, 16));
        assertArrayEquals(new int[] {0, 8, 16}, VaeTiling.origins(24, 8, 0));
    }

    /** Every axis length, tile and overlap up to small bounds: the layout covers the axis with as few tiles as the overlap allows. */
    @Test
    void tilesCoverEveryAxisWithTheLeastOverlapAndNoMoreTilesThanNeeded() {
        for (int tile = 2; tile <= 24; tile++) {
            for (int overlap = 0; overlap < tile; overlap++) {
                for (int size = 1; size <= 120; size++) {
                    int[] origins = VaeTiling.origins(size, tile, overlap);
                    int span = VaeTiling.span(size, tile, overlap);
                    String what = "size " + size + ", tile " + tile + ", overlap " + overlap;
                    assertTrue(span <= tile && span >= Math.min(size, overlap + 1), what + ": span " + span);
                    if (origins.length > 1) {
                        // a shorter side could not cover the axis with as many tiles overlapping by the least overlap
                        assertTrue((long) origins.length * (span - 1) < size + (long) (origins.length - 1) * overlap,
                                what + ": tiles longer than needed");
                    }
                    assertEquals(0, origins[0], what);
                    assertEquals(size, origins[origins.length - 1] + span, what + ": the last tile must end at the edge");
                    for (int i = 1; i < origins.length; i++) {
                        assertTrue(origins[i] > origins[i - 1], what + ": origins must increase");
                        assertTrue(origins[i - 1] + span - origins[i] >= overlap, what + ": neighbours overlap too little");
                    }
                    if (origins.length > 1) {
                        // one tile fewer could not reach the edge with strides of at most tile - overlap
                        assertTrue((long) (origins.length - 2) * (tile - overlap) < size - tile, what + ": more tiles than needed");
                    }
                }
            }
        }
    }

    @Test
    void weightsSumToOneEverywhereAndRampAcrossEachOverlap() {
        for (int scale : new int[] {1, 2, 8}) {
            for (int tile = 2; tile <= 20; tile++) {
                for (int overlap = 0; overlap < tile; overlap++) {
                    for (int size = 1; size <= 70; size++) {
                        checkWeights(size, tile, overlap, scale);
                    }
                }
            }
        }
    }

    private static void checkWeights(int size, int tile, int overlap, int scale) {
        String what = "size " + size + ", tile " + tile + ", overlap " + overlap + ", scale " + scale;
        int[] origins = VaeTiling.origins(size, tile, overlap);
        int span = VaeTiling.span(size, tile, overlap);
        float[][] weights = VaeTiling.weights(origins, span, size, scale);
        assertEquals(origins.length, weights.length, what);
        double[] sum = new double[size * scale];
        int[] covering = new int[size * scale];
        for (int i = 0; i < origins.length; i++) {
            assertEquals(span * scale, weights[i].length, what);
            for (int u = 0; u < weights[i].length; u++) {
                float w = weights[i][u];
                assertTrue(w > 0 && w <= 1, what + ": weight " + w + " of tile " + i + " at " + u);
                sum[origins[i] * scale + u] += w;
                covering[origins[i] * scale + u]++;
            }
        }
        for (int x = 0; x < sum.length; x++) {
            assertEquals(1.0, sum[x], 1e-6, what + ": weights at " + x);
            if (covering[x] == 1) {
                assertEquals(1.0, sum[x], 0, what + ": a pixel covered by one tile takes it whole, at " + x);
            }
        }
        // where exactly two tiles overlap, the later one's weight rises strictly (a feathered ramp, not a step)
        for (int i = 1; i < origins.length; i++) {
            int from = origins[i] * scale;
            int to = (origins[i - 1] + span) * scale;
            for (int x = from + 1; x < to; x++) {
                if (covering[x] == 2 && covering[x - 1] == 2) {
                    assertTrue(weights[i][x - from] > weights[i][x - 1 - from], what + ": no ramp at " + x);
                }
            }
        }
    }

    @Test
    void twoTileRampIsLinearAcrossTheWholeOverlap() {
        // size 12, two tiles of 8 at 0 and 4: overlap [4, 8) at scale 1
        float[][] w = VaeTiling.weights(new int[] {0, 4}, 8, 12, 1);
        assertArrayEquals(new float[] {1, 1, 1, 1, 0.875f, 0.625f, 0.375f, 0.125f}, w[0], 1e-6f);
        assertArrayEquals(new float[] {0.125f, 0.375f, 0.625f, 0.875f, 1, 1, 1, 1}, w[1], 1e-6f);
    }

    @Test
    void twoDimensionalWeightsSumToOne() {
        int size = 37;
        int factor = 2;
        VaeTiling tiling = new VaeTiling(VaeTiling.Mode.ON, 10, 3);
        int[] ys = tiling.origins(size);
        int[] xs = tiling.origins(23);
        float[][] wy = VaeTiling.weights(ys, tiling.span(size), size, factor);
        float[][] wx = VaeTiling.weights(xs, tiling.span(23), 23, factor);
        double[][] sum = new double[size * factor][23 * factor];
        for (int i = 0; i < ys.length; i++) {
            for (int j = 0; j < xs.length; j++) {
                for (int r = 0; r < wy[i].length; r++) {
                    for (int c = 0; c < wx[j].length; c++) {
                        sum[ys[i] * factor + r][xs[j] * factor + c] += wy[i][r] * wx[j][c];
                    }
                }
            }
        }
        for (double[] row : sum) {
            for (double value : row) {
                assertEquals(1.0, value, 1e-6);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({
            // mode, latent height, latent width, factor, tiles?
            "off, 256, 256, 8, false",
            "on, 64, 64, 8, false",      // one tile covers it: the untiled path
            "on, 65, 8, 8, true",
            "on, 8, 65, 8, true",
            "auto, 128, 128, 8, false",  // 1024 x 1024 px: not above the threshold
            "auto, 129, 128, 8, true",
            "auto, 256, 64, 8, false",   // 2048 x 512 px = 2^20 px: not above
            "auto, 257, 64, 8, true",
            "auto, 256, 256, 8, true",
            "auto, 512, 512, 2, false",  // 1024 x 1024 px through a VAE of factor 2
            "auto, 513, 512, 2, true",
    })
    void modesChooseTilingBySize(String mode, int h, int w, int factor, boolean tiles) {
        assertEquals(tiles, VaeTiling.of(VaeTiling.Mode.named(mode)).tiles(h, w, factor), mode + " " + h + "x" + w);
    }

    @Test
    void autoThresholdIsOneMegapixel() {
        assertFalse(VaeTiling.AUTO.tiles(128, 128, 8));
        assertTrue(VaeTiling.AUTO.tiles(136, 128, 8));
        assertTrue(VaeTiling.AUTO.tiles(256, 256, 8));
        assertFalse(VaeTiling.OFF.tiles(256, 256, 8));
    }

    @Test
    void badSettingsAreRefusedWithTheirValues() {
        assertEquals(VaeTiling.Mode.ON, VaeTiling.Mode.named(" On "));
        IllegalArgumentException mode = assertThrows(IllegalArgumentException.class, () -> VaeTiling.Mode.named("yes"));
        assertTrue(mode.getMessage().contains("on, off or auto") && mode.getMessage().contains("yes"), mode.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VaeTiling(VaeTiling.Mode.ON, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new VaeTiling(VaeTiling.Mode.ON, 8, 8));
        assertThrows(IllegalArgumentException.class, () -> new VaeTiling(VaeTiling.Mode.ON, 8, -1));
        assertThrows(IllegalArgumentException.class, () -> new VaeTiling(null, 8, 2));
        assertThrows(IllegalArgumentException.class, () -> VaeTiling.origins(0, 8, 2));
    }
}
