package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.pipeline.Upscalers;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.server.testing.TestServer;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inpainting and the hires fix through the real HTTP server with the tiny golden model: A1111's
 * txt2img with {@code enable_hr} gives {@code hr_scale} times the size with the hires infotext (which
 * png-info reads back), A1111's img2img with a mask keeps every pixel outside the blurred mask, and the
 * native route and the upscaler routes do what A1111's do.
 */
class InpaintHiresServingTest {

    @TempDir
    Path temp;

    @Test
    void hiresFixAndInpaintingThroughEveryRoute() throws Exception {
        Path sd = TinyModelFolder.create(temp, "tiny");
        // the golden 9-channel inpainting U-Net in the same tiny model
        Path nine = TinyModelFolder.create(temp, "inpaint9");
        java.nio.file.Files.copy(Golden.file("inpaint_tiny", "config.json"), nine.resolve("unet/config.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        java.nio.file.Files.copy(Golden.file("inpaint_tiny", "unet9_diffusers.safetensors"),
                nine.resolve("unet/diffusion_pytorch_model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (PipelineEngine engine = PipelineEngine.load(List.of(sd, nine), new ModelHasher(), 1);
             TestServer<PipelineEngine> server = TestServer.start(temp.resolve("data"), engine, c -> c)) {
            int size = TestServer.json(server.get("/api/v1/models")).get("items").get(0).get("default_width").asInt();

            // A1111 txt2img with the hires fix: hr_scale times the size, hires fields in the infotext
            HttpResponse<String> hires = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a red apple\",\"steps\":2,\"seed\":7,"
                    + "\"width\":" + size + ",\"height\":" + size + ",\"enable_hr\":true,\"hr_scale\":2,\"hr_upscaler\":\"Latent\","
                    + "\"hr_second_pass_steps\":2,\"denoising_strength\":0.5}");
            assertEquals(200, hires.statusCode(), hires.body());
            JsonNode hiresBody = TestServer.json(hires);
            String b64 = hiresBody.get("images").get(0).asText();
            BufferedImage big = image(Base64.getDecoder().decode(b64));
            assertEquals(2 * size, big.getWidth());
            assertEquals(2 * size, big.getHeight());
            JsonNode info = TestServer.JSON.readTree(hiresBody.get("info").asText());
            String infotext = info.get("infotexts").get(0).asText();
            for (String field : List.of("Hires upscale: 2", "Hires steps: 2", "Hires upscaler: Latent", "Denoising strength: 0.5",
                    "Size: " + size + "x" + size)) {
                assertTrue(infotext.contains(field), field + " in " + infotext);
            }
            assertEquals(0.5, info.get("denoising_strength").asDouble());
            JsonNode pngInfo = TestServer.json(server.post("/sdapi/v1/png-info", "{\"image\":\"" + b64 + "\"}"));
            assertEquals(infotext, pngInfo.get("info").asText());
            assertEquals("2", pngInfo.at("/parameters/Hires upscale").asText(), pngInfo.toString());
            assertEquals("Latent", pngInfo.at("/parameters/Hires upscaler").asText());
            assertEquals("2", pngInfo.at("/parameters/Hires steps").asText());
            assertEquals("0.5", pngInfo.at("/parameters/Denoising strength").asText());
            // a pixel upscaler and a target size: hr_resize_x with the aspect ratio kept
            HttpResponse<String> resized = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a red apple\",\"steps\":2,\"seed\":7,"
                    + "\"width\":" + size + ",\"height\":" + size + ",\"enable_hr\":true,\"hr_resize_x\":" + (size + size / 2)
                    + ",\"hr_upscaler\":\"Lanczos\",\"hr_second_pass_steps\":2,\"denoising_strength\":0.6}");
            assertEquals(200, resized.statusCode(), resized.body());
            BufferedImage wide = image(Base64.getDecoder().decode(TestServer.json(resized).get("images").get(0).asText()));
            assertEquals(size + size / 2, wide.getWidth());
            assertEquals(size + size / 2, wide.getHeight());
            // the same hires fix on the native route gives the same picture
            JsonNode nativeJob = server.awaitStatus(server.submit("{\"prompt\":\"a red apple\",\"steps\":2,\"seed\":7,\"sampler\":\"euler_a\","
                    + "\"guidance_scale\":7,\"width\":" + size + ",\"height\":" + size + ",\"hires_fix\":{\"scale\":2,\"upscaler\":\"Latent\","
                    + "\"steps\":2,\"strength\":0.5}}"), "succeeded");
            assertEquals("Latent", nativeJob.at("/request/hires_fix/upscaler").asText(), nativeJob.toString());
            BufferedImage nativeBig = image(server.getBytes("/api/v1/images/" + nativeJob.get("images").get(0).asText()).body());
            assertTrue(daguerre.diffusion.testing.Images.maxLevelDifference(big, nativeBig) <= 1, "native hires = A1111 hires");
            // errors name A1111's fields on the A1111 route, native ones on the native route
            HttpResponse<String> badUpscaler = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a\",\"steps\":2,\"width\":" + size
                    + ",\"height\":" + size + ",\"enable_hr\":true,\"hr_upscaler\":\"R-ESRGAN 4x+\"}");
            assertEquals(422, badUpscaler.statusCode(), badUpscaler.body());
            assertTrue(badUpscaler.body().contains("hr_upscaler"), badUpscaler.body());
            HttpResponse<String> badScale = server.post("/api/v1/generations", "{\"prompt\":\"a\",\"hires_fix\":{\"scale\":9}}");
            assertEquals(400, badScale.statusCode(), badScale.body());
            assertEquals("hires_fix.scale", TestServer.json(badScale).at("/error/field").asText());

            // A1111 img2img with a mask: every pixel outside the blurred mask is the init image's
            BufferedImage init = noise(size, size, 3);
            BufferedImage mask = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = mask.createGraphics();
            g.setColor(Color.WHITE);
            int x0 = size / 4;
            int x1 = size / 2;
            g.fillRect(x0, x0, x1 - x0, x1 - x0);
            g.dispose();
            int blur = 2;
            int reach = 2 * (int) (2.5 * blur + 0.5) / 2 + 1; // A1111's kernel radius for this blur, and a pixel more
            for (String area : List.of("", ",\"inpaint_full_res\":false", ",\"inpainting_fill\":1,\"inpaint_full_res_padding\":8",
                    ",\"inpaint_full_res\":false,\"override_settings\":{\"sd_model_checkpoint\":\"inpaint9\"}",
                    ",\"inpainting_fill\":2,\"override_settings\":{\"sd_model_checkpoint\":\"inpaint9\"}")) {
                HttpResponse<String> inpainted = server.post("/sdapi/v1/img2img", "{\"prompt\":\"a red apple\",\"steps\":4,\"seed\":11,"
                        + "\"width\":" + size + ",\"height\":" + size + ",\"denoising_strength\":1.0,\"init_images\":[\"" + png64(init)
                        + "\"],\"mask\":\"" + png64(mask) + "\",\"mask_blur\":" + blur + area + "}");
                assertEquals(200, inpainted.statusCode(), inpainted.body());
                BufferedImage out = image(Base64.getDecoder().decode(TestServer.json(inpainted).get("images").get(0).asText()));
                int outside = 0;
                int changedInside = 0;
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        int dx = Math.max(0, Math.max(x0 - x, x - (x1 - 1)));
                        int dy = Math.max(0, Math.max(x0 - y, y - (x1 - 1)));
                        int d = levelDifference(init.getRGB(x, y), out.getRGB(x, y));
                        if (Math.max(dx, dy) > reach) {
                            assertTrue(d <= 1, "pixel " + x + "," + y + " outside the blurred mask changed by " + d + " (" + area + ")");
                            outside++;
                        } else if (dx == 0 && dy == 0 && d > 8) {
                            changedInside++;
                        }
                    }
                }
                assertTrue(outside > size * size / 3, "enough pixels are checked: " + outside);
                assertTrue(changedInside > 0, "the masked area is repainted (" + area + ")");
                String text = TestServer.JSON.readTree(TestServer.json(inpainted).get("info").asText()).get("infotexts").get(0).asText();
                assertTrue(text.contains("Mask blur: " + blur), text);
                assertEquals(!area.contains("\"inpaint_full_res\":false"), text.contains("Inpaint area: Only masked"), text);
            }
            // the native route with the same mask (stored with the job and read back by the engine)
            JsonNode masked = server.awaitStatus(server.submit("{\"prompt\":\"a red apple\",\"steps\":4,\"seed\":11,\"width\":" + size
                    + ",\"height\":" + size + ",\"strength\":1.0,\"init_image\":\"" + png64(init) + "\",\"mask\":\"" + png64(mask)
                    + "\",\"mask_blur\":" + blur + ",\"inpaint_fill\":\"fill\",\"inpaint_full_res\":true,\"inpaint_full_res_padding\":0}"),
                    "succeeded");
            assertTrue(masked.at("/request/mask").asBoolean(), masked.toString());
            assertEquals("fill", masked.at("/request/inpaint_fill").asText());
            BufferedImage nativeOut = image(server.getBytes("/api/v1/images/" + masked.get("images").get(0).asText()).body());
            assertEquals(init.getRGB(0, 0) & 0xffffff, nativeOut.getRGB(0, 0) & 0xffffff, "a corner far from the mask is kept");
            HttpResponse<String> noInit = server.post("/api/v1/generations", "{\"prompt\":\"a\",\"mask\":\"" + png64(mask) + "\"}");
            assertEquals(400, noInit.statusCode(), noInit.body());
            assertEquals("mask", TestServer.json(noInit).at("/error/field").asText());

            // the upscaler routes
            JsonNode upscalers = TestServer.json(server.get("/sdapi/v1/upscalers"));
            List<String> names = new ArrayList<>();
            upscalers.forEach(u -> names.add(u.get("name").asText()));
            assertEquals(Upscalers.names(), names);
            HttpResponse<String> extras = server.post("/sdapi/v1/extra-single-image", "{\"image\":\"" + png64(init)
                    + "\",\"upscaler_1\":\"Nearest\",\"upscaling_resize\":2}");
            assertEquals(200, extras.statusCode(), extras.body());
            BufferedImage doubled = image(Base64.getDecoder().decode(TestServer.json(extras).get("image").asText()));
            assertEquals(2 * size, doubled.getWidth());
            for (int y = 0; y < 2 * size; y++) {
                for (int x = 0; x < 2 * size; x++) {
                    assertEquals(init.getRGB(x / 2, y / 2), doubled.getRGB(x, y), "Nearest 2x duplicates pixels");
                }
            }
            HttpResponse<String> toSize = server.post("/sdapi/v1/extra-single-image", "{\"image\":\"" + png64(init)
                    + "\",\"upscaler_1\":\"Lanczos\",\"resize_mode\":1,\"upscaling_resize_w\":" + (3 * size) + ",\"upscaling_resize_h\":"
                    + (2 * size) + ",\"upscaling_crop\":true}");
            assertEquals(200, toSize.statusCode(), toSize.body());
            BufferedImage cropped = image(Base64.getDecoder().decode(TestServer.json(toSize).get("image").asText()));
            assertEquals(3 * size, cropped.getWidth());
            assertEquals(2 * size, cropped.getHeight());
            HttpResponse<String> latent = server.post("/sdapi/v1/extra-single-image", "{\"image\":\"" + png64(init)
                    + "\",\"upscaler_1\":\"Latent\"}");
            assertEquals(422, latent.statusCode(), latent.body());
            assertTrue(latent.body().contains("upscaler_1"), latent.body());
        }
    }

    private static int levelDifference(int a, int b) {
        int most = 0;
        for (int shift = 0; shift <= 16; shift += 8) {
            most = Math.max(most, Math.abs(((a >> shift) & 0xff) - ((b >> shift) & 0xff)));
        }
        return most;
    }

    private static BufferedImage noise(int width, int height, long seed) {
        Random random = new Random(seed);
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, random.nextInt(0x1000000));
            }
        }
        return image;
    }

    private static String png64(BufferedImage image) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(image, "png", out);
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    private static BufferedImage image(byte[] png) throws Exception {
        return ImageIO.read(new ByteArrayInputStream(png));
    }
}
