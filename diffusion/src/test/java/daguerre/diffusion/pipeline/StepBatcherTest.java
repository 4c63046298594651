package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import daguerre.diffusion.sampling.Sampler;
import daguerre.diffusion.testing.Images;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jobs running at the same time share U-Net calls and still give their unbatched images. */
class StepBatcherTest {

    @TempDir
    Path temp;

    private static List<GenerationRequest> mixedRequests() {
        return List.of(
                GenerationRequest.builder("a photo of an astronaut riding a horse").negativePrompt("blurry")
                        .sampler(Sampler.EULER_A).steps(8).seed(1).build(),
                GenerationRequest.builder("a cat").sampler(Sampler.DDIM).steps(5).guidanceScale(4).seed(2).batchSize(2).build(),
                GenerationRequest.builder("a horse").sampler(Sampler.DPMPP_2M).steps(6).guidanceScale(1).seed(3).build(),
                GenerationRequest.builder("a dog").sampler(Sampler.LMS).steps(7).guidanceRescale(0.5).seed(4).build());
    }

    @Test
    void concurrentJobsShareStepsAndMatchTheirUnbatchedImages() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            assertSharedStepsMatchUnbatched(new StableDiffusionPipeline(model), mixedRequests());
        }
    }

    /**
     * Step caching: jobs at full and at cached steps in one batch (different intervals, so their
     * phases differ), guided ones keeping features for both halves, next to a job without caching.
     */
    @Test
    void jobsWithStepCachingShareStepsAndMatchTheirUnbatchedImages() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            List<GenerationRequest> requests = List.of(
                    GenerationRequest.builder("a photo of an astronaut riding a horse").negativePrompt("blurry")
                            .sampler(Sampler.EULER_A).steps(8).seed(1).cacheInterval(2).build(),
                    GenerationRequest.builder("a cat").sampler(Sampler.DDIM).steps(7).guidanceScale(4).seed(2).batchSize(2)
                            .cacheInterval(3).build(),
                    GenerationRequest.builder("a horse").sampler(Sampler.DPMPP_2M).steps(6).guidanceScale(1).seed(3)
                            .cacheInterval(2).build(),
                    GenerationRequest.builder("a dog").sampler(Sampler.LMS).steps(7).seed(4).build());
            assertSharedStepsMatchUnbatched(new StableDiffusionPipeline(model), requests);
        }
    }

    @Test
    void sdxlJobsWithStepCachingShareSteps() throws Exception {
        Path sdxl = daguerre.weights.Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        try (StableDiffusionModel model = StableDiffusionModel.load(sdxl, null, new ModelHasher())) {
            int size = model.defaultImageSize();
            List<GenerationRequest> requests = List.of(
                    GenerationRequest.builder("a photo of an astronaut").negativePrompt("blurry").sampler(Sampler.EULER)
                            .steps(6).guidanceScale(5).seed(1).size(size, size).cacheInterval(2).build(),
                    GenerationRequest.builder("a horse").sampler(Sampler.EULER).steps(6).guidanceScale(5).seed(2).size(size, size)
                            .microConditioning(new MicroConditioning(768, 1024, 16, 32, size, size), null).cacheInterval(3).build(),
                    GenerationRequest.builder("a cat").sampler(Sampler.EULER).steps(6).guidanceScale(1).seed(3).size(size, size).build());
            assertSharedStepsMatchUnbatched(new StableDiffusionPipeline(model), requests);
        }
    }

    @Test
    void sdxlJobsWithTheirOwnMicroConditioningShareSteps() throws Exception {
        Path sdxl = daguerre.weights.Golden.caseDir("pipeline_tiny_xl").resolve("pipeline");
        try (StableDiffusionModel model = StableDiffusionModel.load(sdxl, null, new ModelHasher())) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            int size = model.defaultImageSize();
            // per-row pooled embeddings and time ids: different prompts, guidance, and micro-conditioning in one call
            List<GenerationRequest> requests = List.of(
                    GenerationRequest.builder("a photo of an astronaut").negativePrompt("blurry").sampler(Sampler.EULER)
                            .steps(6).guidanceScale(5).seed(1).size(size, size).build(),
                    GenerationRequest.builder("a horse").sampler(Sampler.EULER).steps(6).guidanceScale(5).seed(2).size(size, size)
                            .microConditioning(new MicroConditioning(768, 1024, 16, 32, size, size), MicroConditioning.defaults(512, 512))
                            .batchSize(2).build(),
                    GenerationRequest.builder("a cat").sampler(Sampler.EULER).steps(6).guidanceScale(1).seed(3).size(size, size)
                            .microConditioning(new MicroConditioning(size, size, 8, 0, 2 * size, size), null).build());
            assertSharedStepsMatchUnbatched(pipeline, requests);
        }
    }

    /**
     * Runs {@code requests} alone, then all at once through one batcher: each image within two levels
     * of its unbatched one with the same infotext, in fewer U-Net calls than steps.
     */
    private static void assertSharedStepsMatchUnbatched(StableDiffusionPipeline pipeline, List<GenerationRequest> requests)
            throws Exception {
        List<List<GeneratedImage>> alone = new ArrayList<>();
        for (GenerationRequest request : requests) {
            alone.add(pipeline.generate(request, GenerationListener.NONE, () -> false));
        }

        ExecutorService clients = Executors.newFixedThreadPool(requests.size());
        CountDownLatch ready = new CountDownLatch(requests.size());
        try (StepBatcher batcher = new StepBatcher(pipeline, 16, "test-batcher")) {
            List<Future<List<GeneratedImage>>> futures = new ArrayList<>();
            for (GenerationRequest request : requests) {
                futures.add(clients.submit(() -> {
                    ready.countDown();
                    ready.await();
                    return batcher.generate(request, GenerationListener.NONE, () -> false);
                }));
            }
            int totalSteps = 0;
            for (int i = 0; i < requests.size(); i++) {
                List<GeneratedImage> batched = futures.get(i).get();
                assertEquals(alone.get(i).size(), batched.size());
                for (int j = 0; j < batched.size(); j++) {
                    int difference = Images.maxLevelDifference(alone.get(i).get(j).image(), batched.get(j).image());
                    assertTrue(difference <= 2, "request " + i + " image " + j + " differs by " + difference + " levels");
                    assertEquals(alone.get(i).get(j).infotext(), batched.get(j).infotext());
                }
                totalSteps += requests.get(i).steps();
                assertEquals(requests.get(i).cachesSteps(), batched.get(0).infotext().parameters().containsKey("Cache interval"));
            }
            assertTrue(batcher.unetCalls() < totalSteps,
                    batcher.unetCalls() + " U-Net calls for " + totalSteps + " steps: jobs did not share calls");
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void aJobFinishingEarlySkipsItsRemainingStepsAndIsDecodedAsItStands() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher())) {
            StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
            GenerationRequest request = GenerationRequest.builder("a cat").sampler(Sampler.EULER).steps(8).seed(5).batchSize(2).build();
            List<GeneratedImage> full = pipeline.generate(request, GenerationListener.NONE, () -> false);
            AtomicInteger steps = new AtomicInteger();
            GenerationListener counting = (step, total, preview) -> steps.set(step);
            List<GeneratedImage> early = pipeline.generate(request, counting, () -> false, () -> steps.get() >= 3);
            assertEquals(3, steps.get(), "the remaining steps are skipped");
            assertEquals(2, early.size(), "every image of the batch comes back");
            assertTrue(Images.maxLevelDifference(full.get(0).image(), early.get(0).image()) > 2, "a 3-step estimate, not the final image");
            assertEquals(5, early.get(0).seed());

            steps.set(0);
            try (StepBatcher batcher = new StepBatcher(pipeline, 16, "test-batcher")) {
                List<GeneratedImage> batched = batcher.generate(request, counting, () -> false, () -> steps.get() >= 3);
                assertEquals(3, steps.get());
                assertEquals(2, batched.size());
                assertTrue(Images.maxLevelDifference(early.get(1).image(), batched.get(1).image()) <= 2,
                        "the batcher stops at the same step as the pipeline alone");
            }
        }
    }

    @Test
    void aCancelledJobLeavesTheBatchAndTheOthersFinish() throws Exception {
        try (StableDiffusionModel model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher());
             StepBatcher batcher = new StepBatcher(new StableDiffusionPipeline(model), 16, "test-batcher")) {
            ExecutorService clients = Executors.newFixedThreadPool(2);
            try {
                AtomicInteger cancelledSteps = new AtomicInteger();
                Future<List<GeneratedImage>> cancelled = clients.submit(() -> batcher.generate(
                        GenerationRequest.builder("a cat").steps(20).seed(1).build(),
                        (step, total, preview) -> cancelledSteps.set(step), () -> cancelledSteps.get() >= 3));
                Future<List<GeneratedImage>> kept = clients.submit(() -> batcher.generate(
                        GenerationRequest.builder("a dog").steps(10).seed(2).build(), GenerationListener.NONE, () -> false));
                ExecutionException e = assertThrows(ExecutionException.class, cancelled::get);
                assertTrue(e.getCause() instanceof CancellationException, e.toString());
                assertEquals(1, kept.get().size());
                assertEquals(3, cancelledSteps.get());
            } finally {
                clients.shutdownNow();
            }
        }
    }

}
