package daguerre.diffusion.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import daguerre.diffusion.pipeline.GeneratedImage;
import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.InvalidRequestException;
import daguerre.diffusion.pipeline.StableDiffusionModel;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.pipeline.StepBatcher;
import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.diffusion.vae.VaeTiling;
import daguerre.weights.Golden;
import daguerre.weights.model.ModelHasher;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRAs in whole generations on the tiny model the golden LoRAs were made for: tags and the request
 * list give the same image, weight 0 the image without the LoRA, the runtime branches the image of
 * the merged weights, and jobs with different LoRAs sharing U-Net calls each their own image.
 */
class LoraPipelineTest {

    @TempDir
    Path temp;

    private Path loraFolder;
    private String lora;       // the kohya LoRA, by name
    private String locon;      // the kohya LoCon, by name

    @BeforeEach
    void copyLoras() throws IOException {
        assumeTrue(TinyLoraCase.unetCase().equals("unet_tiny") && TinyLoraCase.textCase().equals("clip_text_tiny"),
                "lora_tiny is for other base cases than the tiny model folder's (unet_tiny, clip_text_tiny)");
        loraFolder = Files.createDirectories(temp.resolve("loras/styles"));
        for (String file : TinyLoraCase.loraFiles()) {
            if (file.contains("kohya")) {
                Files.copy(Golden.file(TinyLoraCase.CASE, file), loraFolder.resolve(file));
            }
        }
        lora = TinyLoraCase.loraFiles().stream().filter(f -> f.startsWith("lora") && f.contains("kohya")).findFirst().orElseThrow()
                .replace(".safetensors", "");
        locon = TinyLoraCase.loraFiles().stream().filter(f -> f.startsWith("locon") && f.contains("kohya")).findFirst().orElseThrow()
                .replace(".safetensors", "");
    }

    private static GenerationRequest.Builder request(String prompt) {
        return GenerationRequest.builder(prompt).negativePrompt("blurry").sampler(Sampler.EULER).steps(6).seed(11);
    }

    private static GeneratedImage one(StableDiffusionPipeline pipeline, GenerationRequest request) {
        return pipeline.generate(request, GenerationListener.NONE, () -> false).get(0);
    }

    @Test
    void tagsAndTheListGiveTheSameImageAndWeightZeroTheImageWithout() throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            LoraLibrary library = new LoraLibrary(temp.resolve("loras"), 1 << 30, new ModelHasher());
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF, library);
            GeneratedImage plain = one(pipeline, request("a red apple").build());
            GeneratedImage tagged = one(pipeline, request("a red apple <lora:" + lora + ":0.8>").build());
            GeneratedImage listed = one(pipeline, request("a red apple").loras(List.of(RequestedLora.of(lora, 0.8))).build());
            GeneratedImage off = one(pipeline, request("a red apple <lora:" + lora + ":0>").build());

            assertTrue(Images.maxLevelDifference(plain.image(), tagged.image()) > 2, "the LoRA changes nothing");
            assertEquals(0, Images.maxLevelDifference(tagged.image(), listed.image()), "tag and list differ");
            assertEquals(0, Images.maxLevelDifference(plain.image(), off.image()), "weight 0 is not the image without the LoRA");

            String hash = addnetHash(loraFolder.resolve(lora + ".safetensors"));
            assertEquals(lora + ": " + hash, tagged.infotext().parameters().get("Lora hashes"));
            assertTrue(tagged.infotext().format().contains("Lora hashes: \"" + lora + ": " + hash + "\""), tagged.infotext().format());
            assertEquals("a red apple <lora:" + lora + ":0.8>", listed.infotext().prompt(), "the listed LoRA is not in the infotext's prompt");
            assertFalse(off.infotext().parameters().containsKey("Lora hashes"));
            assertFalse(plain.infotext().parameters().containsKey("Lora hashes"));
            assertTrue(library.cachedBytes() > 0, "the LoRA was not cached");
        }
    }

    @Test
    void runtimeBranchesGiveTheImageOfTheMergedWeightsAndSeparateWeightsApply() throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            LoraLibrary library = new LoraLibrary(temp.resolve("loras"), 1 << 30, new ModelHasher());
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF, library);
            GeneratedImage runtime = one(pipeline, request("a red apple <lora:" + locon + ":0.7:0.4>").build());
            GeneratedImage merged;
            try (AppliedLoras applied = LoraMerger.merge(model,
                    List.of(new WeightedLora(library.load(locon, model), 0.4f, 0.7f)))) {
                merged = one(pipeline, request("a red apple").build());
            }
            assertTrue(Images.maxLevelDifference(runtime.image(), merged.image()) <= 1,
                    "runtime and merged differ by " + Images.maxLevelDifference(runtime.image(), merged.image()) + " levels");
            GeneratedImage textOnly = one(pipeline, request("a red apple <lora:" + locon + ":0.7:0>").build());
            GeneratedImage unetOnly = one(pipeline, request("a red apple <lora:" + locon + ":te=0:unet=0.4>").build());
            GeneratedImage plain = one(pipeline, request("a red apple").build());
            for (GeneratedImage partial : List.of(textOnly, unetOnly)) {
                assertTrue(Images.maxLevelDifference(partial.image(), plain.image()) > 2);
                assertTrue(Images.maxLevelDifference(partial.image(), runtime.image()) > 2);
            }
        }
    }

    @Test
    void jobsWithDifferentLorasShareStepsAndEachGetsItsOwnImage() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF,
                    new LoraLibrary(temp.resolve("loras"), 1 << 30, new ModelHasher()));
            List<GenerationRequest> requests = List.of(
                    request("a red apple <lora:" + lora + ":1>").build(),
                    request("a red apple").batchSize(2).build(),
                    request("a red apple <lora:" + locon + ":0.6> <lora:" + lora + ":-0.5>").guidanceScale(1).build(),
                    request("a red apple <lora:" + lora + ":0.3>").build());
            List<List<GeneratedImage>> alone = new ArrayList<>();
            for (GenerationRequest r : requests) {
                alone.add(pipeline.generate(r, GenerationListener.NONE, () -> false));
            }
            ExecutorService clients = Executors.newFixedThreadPool(requests.size());
            CountDownLatch ready = new CountDownLatch(requests.size());
            try (StepBatcher batcher = new StepBatcher(pipeline, 16, "lora-batcher")) {
                List<Future<List<GeneratedImage>>> futures = new ArrayList<>();
                for (GenerationRequest r : requests) {
                    futures.add(clients.submit(() -> {
                        ready.countDown();
                        ready.await();
                        return batcher.generate(r, GenerationListener.NONE, () -> false);
                    }));
                }
                for (int i = 0; i < requests.size(); i++) {
                    List<GeneratedImage> batched = futures.get(i).get();
                    for (int j = 0; j < batched.size(); j++) {
                        int difference = Images.maxLevelDifference(alone.get(i).get(j).image(), batched.get(j).image());
                        assertTrue(difference <= 1, "request " + i + " image " + j + " differs by " + difference + " levels");
                    }
                }
                assertTrue(batcher.unetCalls() < 4 * 6, batcher.unetCalls() + " U-Net calls: the jobs did not share any");
            } finally {
                clients.shutdownNow();
            }
        }
    }

    @Test
    void unknownLorasAndPipelinesWithoutAFolderAreRefusedByName() throws IOException {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model, VaeTiling.OFF,
                    new LoraLibrary(temp.resolve("loras"), 0, new ModelHasher()));
            InvalidRequestException unknown = assertThrows(InvalidRequestException.class,
                    () -> one(pipeline, request("a <lora:nosuch:1>").build()));
            assertTrue(unknown.getMessage().contains("no LoRA named 'nosuch'") && unknown.getMessage().contains(lora), unknown.getMessage());
            InvalidRequestException noFolder = assertThrows(InvalidRequestException.class,
                    () -> one(new StableDiffusionPipeline(model), request("a <lora:" + lora + ":1>").build()));
            assertTrue(noFolder.getMessage().contains("no LoRA folder"), noFolder.getMessage());
            // by path, and weight 0 needs no file at all
            one(pipeline, request("a").loras(List.of(RequestedLora.of(loraFolder.resolve(lora + ".safetensors").toString(), 0.5))).build());
            one(new StableDiffusionPipeline(model), request("a <lora:nosuch:0>").steps(1).build());
        }
    }

    /** A1111's LoRA hash, computed here on its own: SHA-256 of the bytes after the 8-byte length and the header, 12 hex digits. */
    private static String addnetHash(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long header = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(Arrays.copyOfRange(bytes, (int) (8 + header), bytes.length));
            return HexFormat.of().formatHex(digest).substring(0, 12);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
