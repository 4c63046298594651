package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class InfotextTest {

    private static Map<String, String> params() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Steps", "20");
        p.put("Sampler", "Euler a");
        p.put("CFG scale", Infotext.number(7.0));
        p.put("Seed", "42");
        p.put("Size", "512x512");
        p.put("Model hash", "6ce0161689");
        p.put("Model", "v1-5, pruned: emaonly");
        return p;
    }

    @Test
    void formatsLikeA1111() {
        Infotext info = new Infotext("a photo of a cat", "blurry", params());
        assertEquals("a photo of a cat\nNegative prompt: blurry\n"
                + "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model hash: 6ce0161689, "
                + "Model: \"v1-5, pruned: emaonly\"", info.format());
        assertEquals("a cat\nSteps: 20", new Infotext("a cat", "", Map.of("Steps", "20")).format());
        assertEquals("7.5", Infotext.number(7.5));
    }

    @Test
    void parsesWhatItFormats() {
        Infotext info = new Infotext("line one\nline two, with: colon", "bad\nworse", params());
        assertEquals(info, Infotext.parse(info.format()));
        Infotext noNegative = new Infotext("just a prompt", "", params());
        assertEquals(noNegative, Infotext.parse(noNegative.format()));
    }

    @Test
    void pngTextRoundTripsLatin1AndUnicode() throws Exception {
        BufferedImage image = new BufferedImage(4, 3, BufferedImage.TYPE_INT_RGB);
        image.setRGB(1, 1, 0x123456);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        for (String text : new String[] {"café, Steps: 20", "猫 🐈 ünïcode"}) {
            byte[] png = PngText.withText(out.toByteArray(), "parameters", text);
            assertEquals(text, PngText.read(png).get("parameters"));
            BufferedImage decoded = ImageIO.read(new java.io.ByteArrayInputStream(png));
            assertEquals(0x123456, decoded.getRGB(1, 1) & 0xffffff);
        }
        assertThrows(IllegalArgumentException.class, () -> PngText.withText(new byte[40], "k", "v"));
    }
}
