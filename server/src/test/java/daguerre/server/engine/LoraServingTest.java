package daguerre.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import daguerre.diffusion.embeddings.TextualInversionLibrary;
import daguerre.diffusion.lora.LoraLibrary;
import daguerre.diffusion.nn.WeightPrecision;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.server.Main;
import daguerre.server.testing.TestServer;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import daguerre.weights.safetensors.SafetensorsWriter;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA served from the LoRA folder: listed by the native and A1111 routes; the same LoRA through the
 * native {@code loras} list, an A1111 {@code <lora:...>} tag and the CLI's {@code --lora} gives the
 * same image; weight 0 gives the image without it; an unknown name is refused at submit. Textual-inversion
 * embeddings of the embeddings folder are listed (loaded or skipped with the reason) and used by trigger word.
 */
class LoraServingTest {

    @TempDir
    Path temp;

    @Test
    void theSameLoraThroughEveryEntryPointGivesTheSameImage() throws Exception {
        Path loras = Files.createDirectories(temp.resolve("loras"));
        Files.copy(Golden.file("lora_tiny", "lora_kohya.safetensors"), loras.resolve("apple-style.safetensors"));
        Path model = TinyModelFolder.create(temp, "tiny");
        ModelHasher hasher = new ModelHasher();
        Path embeddings = Files.createDirectories(temp.resolve("embeddings"));
        SafetensorsWriter.write(embeddings.resolve("too-wide.safetensors"),
                List.of(SafetensorsWriter.Tensor.f32("emb_params", new long[] {2, 4096}, new float[2 * 4096])));
        try (PipelineEngine engine = PipelineEngine.load(List.of(model), hasher, 2, WeightPrecision.AS_STORED, VaeTiling.AUTO,
                new LoraLibrary(loras, 1 << 30, hasher), new TextualInversionLibrary(embeddings, hasher));
             TestServer<PipelineEngine> server = TestServer.start(temp.resolve("data"), engine, c -> c)) {
            JsonNode listed = TestServer.json(server.get("/api/v1/loras")).get("items");
            assertEquals(1, listed.size(), listed.toString());
            assertEquals("apple-style", listed.get(0).get("name").asText());
            assertEquals("networks.lora", listed.get(0).path("metadata").path("ss_network_module").asText(), listed.toString());
            JsonNode a1111List = TestServer.json(server.get("/sdapi/v1/loras"));
            assertEquals("apple-style", a1111List.get(0).get("name").asText());
            assertEquals("apple-style", a1111List.get(0).get("alias").asText());

            // an embedding made of the token table's own rows of "red apple", and one too wide for the tiny encoder
            StableDiffusionModel loaded = engine.pipeline(engine.defaultModelId()).model();
            int[] ids = loaded.tokenizer().tokenIds("red apple");
            float[] table = loaded.textEncoder().namedParameters().get("text_model.embeddings.token_embedding.weight").floats();
            int dim = loaded.textEncoder().config().hiddenSize();
            float[] rows = new float[ids.length * dim];
            for (int i = 0; i < ids.length; i++) {
                System.arraycopy(table, ids[i] * dim, rows, i * dim, dim);
            }
            SafetensorsWriter.write(embeddings.resolve("zqxfruit.safetensors"),
                    List.of(SafetensorsWriter.Tensor.f32("emb_params", new long[] {ids.length, dim}, rows)));
            JsonNode listedEmbeddings = TestServer.json(server.get("/sdapi/v1/embeddings"));
            assertEquals(ids.length, listedEmbeddings.path("loaded").path("zqxfruit").path("vectors").asInt(), listedEmbeddings.toString());
            assertEquals(dim, listedEmbeddings.path("loaded").path("zqxfruit").path("shape").asInt());
            assertTrue(listedEmbeddings.path("skipped").path("too-wide").path("reason").asText().contains("takes " + dim),
                    listedEmbeddings.toString());

            int size = engine.models().get(0).defaultWidth();
            String common = "\"sampler\":\"euler\",\"steps\":4,\"seed\":7,\"width\":" + size + ",\"height\":" + size;
            BufferedImage plain = nativeImage(server, "{\"prompt\":\"a red apple\"," + common + "}");
            String listedJob = server.submit("{\"prompt\":\"a red apple\",\"loras\":[{\"name\":\"apple-style\",\"weight\":0.8}]," + common + "}");
            JsonNode job = server.awaitStatus(listedJob, "succeeded");
            assertEquals("apple-style", job.path("request").path("loras").get(0).path("name").asText(), job.toString());
            BufferedImage viaList = image(server.getBytes("/api/v1/images/" + job.get("images").get(0).asText()).body());
            BufferedImage viaTag = nativeImage(server, "{\"prompt\":\"a red apple <lora:apple-style:0.8>\"," + common + "}");
            BufferedImage viaEmbedding = nativeImage(server, "{\"prompt\":\"a zqxfruit <lora:apple-style:0.8>\"," + common + "}");
            BufferedImage off = nativeImage(server, "{\"prompt\":\"a red apple\",\"loras\":[{\"name\":\"apple-style\",\"weight\":0}]," + common + "}");

            HttpResponse<String> a1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a red apple <lora:apple-style:0.8>\","
                    + "\"sampler_name\":\"Euler\",\"steps\":4,\"seed\":7,\"cfg_scale\":7,\"width\":" + size + ",\"height\":" + size + "}");
            assertEquals(200, a1111.statusCode(), a1111.body());
            JsonNode a1111Body = TestServer.json(a1111);
            BufferedImage viaA1111 = image(Base64.getDecoder().decode(a1111Body.get("images").get(0).asText()));
            String infotext = TestServer.json(server.get("/api/v1/images/" + job.get("images").get(0).asText() + "/metadata"))
                    .get("infotext").asText();
            assertTrue(infotext.contains("Lora hashes: \"apple-style: "), infotext);
            assertTrue(infotext.startsWith("a red apple <lora:apple-style:0.8>"), "the listed LoRA is in the infotext's prompt: " + infotext);
            assertTrue(a1111Body.get("info").asText().contains("Lora hashes"), a1111Body.get("info").asText());

            Path out = temp.resolve("cli");
            int exit = Main.commandLine().execute("generate", "--model", model.toString(), "--prompt", "a red apple",
                    "--lora", "apple-style:0.8", "--lora-dir", loras.toString(), "--sampler", "euler", "--steps", "4", "--seed", "7",
                    "--guidance", "7", "--out", out.toString());
            assertEquals(0, exit);
            BufferedImage viaCli;
            try (Stream<Path> files = Files.list(out)) {
                viaCli = ImageIO.read(files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow().toFile());
            }

            assertTrue(Images.maxLevelDifference(plain, viaList) > 2, "the LoRA changes nothing");
            for (BufferedImage same : List.of(viaTag, viaA1111, viaCli, viaEmbedding)) {
                assertTrue(Images.maxLevelDifference(viaList, same) <= 1, "differs by " + Images.maxLevelDifference(viaList, same));
            }
            assertTrue(Images.maxLevelDifference(plain, off) <= 1, "weight 0 is not the image without the LoRA");

            HttpResponse<String> unknown = server.post("/api/v1/generations", "{\"prompt\":\"a <lora:nosuch:1>\"," + common + "}");
            assertEquals(400, unknown.statusCode(), unknown.body());
            assertTrue(unknown.body().contains("lora_not_found") && unknown.body().contains("apple-style"), unknown.body());
            HttpResponse<String> unknownA1111 = server.post("/sdapi/v1/txt2img", "{\"prompt\":\"a <lora:nosuch:1>\",\"steps\":2}");
            assertEquals(422, unknownA1111.statusCode(), unknownA1111.body());   // A1111 answers bad requests as FastAPI does
            HttpResponse<String> badWeight = server.post("/api/v1/generations", "{\"prompt\":\"a <lora:apple-style:lots>\"," + common + "}");
            assertEquals(400, badWeight.statusCode(), badWeight.body());
            assertTrue(badWeight.body().contains("is not a number"), badWeight.body());
            HttpResponse<String> badField = server.post("/api/v1/generations",
                    "{\"prompt\":\"a\",\"loras\":[{\"name\":\"apple-style\",\"strength\":1}]," + common + "}");
            assertEquals(400, badField.statusCode(), badField.body());
        }
    }

    private static BufferedImage nativeImage(TestServer<?> server, String body) throws Exception {
        JsonNode job = server.awaitStatus(server.submit(body), "succeeded");
        return image(server.getBytes("/api/v1/images/" + job.get("images").get(0).asText()).body());
    }

    private static BufferedImage image(byte[] png) throws IOException {
        return ImageIO.read(new ByteArrayInputStream(png));
    }
}
