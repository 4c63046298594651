package daguerre.diffusion.bench;

import daguerre.diffusion.pipeline.GenerationListener;
import daguerre.diffusion.pipeline.GenerationRequest;
import daguerre.diffusion.pipeline.StableDiffusionPipeline;
import daguerre.diffusion.pipeline.StepBatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Service throughput: N jobs submitted at once, run either one after another (unbatched) or
 * concurrently through a {@link StepBatcher} (their U-Net steps shared). Reports images per
 * minute for each N and mode; the ratio batched / unbatched within one run is the figure to compare.
 */
public final class Throughput {

    private Throughput() {}

    /**
     * @param concurrency the job counts to measure, e.g. 1, 4, 8
     * @param request the request every job runs (seed varied per job)
     * @return figure name -> images per minute, e.g. {@code throughput_ipm.batched.4}
     */
    public static Map<String, Double> run(StableDiffusionPipeline pipeline, GenerationRequest request, List<Integer> concurrency)
            throws Exception {
        Map<String, Double> figures = new LinkedHashMap<>();
        pipeline.generate(request, GenerationListener.NONE, () -> false); // warm-up
        for (int jobs : concurrency) {
            long start = System.nanoTime();
            for (int i = 0; i < jobs; i++) {
                pipeline.generate(request.toBuilder().seed(request.seed() + i).build(), GenerationListener.NONE, () -> false);
            }
            figures.put("throughput_ipm.unbatched." + jobs, imagesPerMinute(jobs * request.batchSize(), start));

            ExecutorService clients = Executors.newFixedThreadPool(jobs);
            try (StepBatcher batcher = new StepBatcher(pipeline, Integer.MAX_VALUE, "bench-steps")) {
                start = System.nanoTime();
                List<Future<?>> futures = new ArrayList<>();
                for (int i = 0; i < jobs; i++) {
                    GenerationRequest job = request.toBuilder().seed(request.seed() + i).build();
                    futures.add(clients.submit(() -> batcher.generate(job, GenerationListener.NONE, () -> false)));
                }
                for (Future<?> future : futures) {
                    future.get();
                }
                figures.put("throughput_ipm.batched." + jobs, imagesPerMinute(jobs * request.batchSize(), start));
                figures.put("throughput_unet_calls.batched." + jobs, (double) batcher.unetCalls());
            } finally {
                clients.shutdownNow();
            }
        }
        return figures;
    }

    private static double imagesPerMinute(int images, long startNanos) {
        return images * 60e9 / (System.nanoTime() - startNanos);
    }
}
