package daguerre.diffusion.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CielabTest {

    // Reference L*a*b* (D65) of sRGB colours, as published by colour-science tools
    // (e.g. Bruce Lindbloom's calculator with sRGB, D65, no adaptation).
    @Test
    void knownColours() {
        assertLab(new Srgb(255, 255, 255), 100.0, 0.0, 0.0);
        assertLab(new Srgb(0, 0, 0), 0.0, 0.0, 0.0);
        assertLab(new Srgb(255, 0, 0), 53.2408, 80.0925, 67.2032);
        assertLab(new Srgb(0, 255, 0), 87.7347, -86.1827, 83.1793);
        assertLab(new Srgb(0, 0, 255), 32.2970, 79.1875, -107.8602);
        assertLab(new Srgb(128, 128, 128), 53.5850, 0.0, 0.0);
        // A dark grey on the linear segment of both the sRGB curve (10/255 < 0.04045)
        // and CIE's f(t) (Y < (6/29)^3): L = (24389 / 27) * Y.
        assertLab(new Srgb(10, 10, 10), 2.7417, 0.0, 0.0);
    }

    @Test
    void deltaEIsEuclideanInLab() {
        assertEquals(5.0, Cielab.deltaE(new Lab(50, 0, 0), new Lab(50, 3, 4)), 1e-12);
        assertEquals(100.0, new Srgb(0, 0, 0).lab().distance(new Srgb(255, 255, 255).lab()), 1e-3);
    }

    @Test
    void nearestPaletteColour() {
        for (PaletteColour colour : PaletteColour.values()) {
            assertEquals(colour, PaletteColour.nearest(colour.srgb()));
        }
        assertEquals(PaletteColour.RED, PaletteColour.nearest(new Srgb(200, 50, 50)));
        assertEquals(PaletteColour.GRAY, PaletteColour.nearest(new Srgb(100, 100, 100)));
        assertEquals(PaletteColour.BLACK, PaletteColour.nearest(new Srgb(20, 20, 25)));
        assertEquals(PaletteColour.PINK, PaletteColour.nearest(new Srgb(255, 150, 200)));
    }

    @Test
    void nearestAmongArbitraryCandidates() {
        Map<String, Lab> candidates = new LinkedHashMap<>();
        candidates.put("brown", new Srgb(150, 90, 50).lab());
        candidates.put("orange", new Srgb(245, 140, 30).lab());
        assertEquals("brown", Cielab.nearest(new Srgb(140, 85, 45).lab(), candidates));
        assertThrows(IllegalArgumentException.class, () -> Cielab.nearest(new Lab(0, 0, 0), Map.of()));
    }

    @Test
    void paletteLabels() {
        assertEquals("gray", PaletteColour.GRAY.label());
        assertEquals(0xdc2828, PaletteColour.RED.rgb());
        assertEquals(PaletteColour.PURPLE, PaletteColour.ofLabel("purple"));
        assertThrows(IllegalArgumentException.class, () -> PaletteColour.ofLabel("teal"));
        assertThrows(IllegalArgumentException.class, () -> new Srgb(256, 0, 0));
    }

    private static void assertLab(Srgb colour, double l, double a, double b) {
        Lab lab = colour.lab();
        assertEquals(l, lab.l(), 2e-3, "L of " + colour);
        assertEquals(a, lab.a(), 2e-3, "a of " + colour);
        assertEquals(b, lab.b(), 2e-3, "b of " + colour);
    }
}
