package daguerre.diffusion.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The GEMM peak probe runs and gives a finite rate; the FMA and GEMM peaks are compared with a 10% tolerance. */
class GemmPeakTest {

    @Test
    void smallMultiplyGivesAFiniteRate() {
        double gflops = GemmPeak.measureGflops(256, 2);
        assertTrue(Double.isFinite(gflops) && gflops > 0, "GEMM peak " + gflops);
        assertEquals(2.0 * 2048 * 2048 * 2048, GemmPeak.flops(2048));
        assertThrows(IllegalArgumentException.class, () -> GemmPeak.measureGflops(0, 1));
    }

    @Test
    void peaksDifferBeyondTenPercentEitherWay() {
        // FMA peak = max(100, 90) = 100; GEMM peak = the higher of its two
        assertTrue(figures(100, 90, 85, 80).peakProbesDiffer());
        assertTrue(figures(100, 90, 80, 111).peakProbesDiffer());
        assertTrue(!figures(100, 90, 91, 80).peakProbesDiffer());
        assertTrue(!figures(90, 100, 80, 109).peakProbesDiffer());
        Benchmark.Figures figures = figures(100, 90, 85, 80);
        assertEquals(85, figures.gemmPeakGflops());
        assertEquals(0.85, figures.named().get("gemm_to_fma_peak"), 1e-12);
        assertEquals(100, figures.named().get("peak_gflops"));
    }

    private static Benchmark.Figures figures(double fmaStart, double fmaEnd, double gemmStart, double gemmEnd) {
        return new Benchmark.Figures(fmaStart, fmaEnd, gemmStart, gemmEnd, 1, 1, 1, List.of());
    }
}
