package daguerre.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.diffusion.nn.Cancellation;
import daguerre.diffusion.sampling.SeededNoise;
import daguerre.diffusion.testing.TinyModelFolder;
import daguerre.weights.model.ModelHasher;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A cancelled job stops inside the U-Net or VAE pass it is in, not at the end of the step or decode. */
class CancellationTest {

    @TempDir
    static Path temp;

    private static StableDiffusionModel model;

    @BeforeAll
    static void load() throws Exception {
        model = StableDiffusionModel.load(TinyModelFolder.create(temp, "tiny"), null, new ModelHasher());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    /** A flag that counts how often it is read and reads true from its {@code cancelAt}-th read on. */
    private static final class CountingFlag implements BooleanSupplier {
        final AtomicInteger reads = new AtomicInteger();
        final int cancelAt;

        CountingFlag(int cancelAt) {
            this.cancelAt = cancelAt;
        }

        @Override
        public boolean getAsBoolean() {
            return reads.incrementAndGet() >= cancelAt;
        }
    }

    private static NDArray unetPass(NDManager manager) {
        int channels = model.vae().config().latentChannels();
        NDArray sample = manager.randomNormal(new Shape(1, channels, 8, 8));
        NDArray context = model.textEncoder().forward(manager.create(new int[] {1, 2, 3}, new Shape(1, 3))).lastHiddenState();
        return model.unet().forward(sample, new float[] {500}, context);
    }

    @Test
    void aUNetPassStopsAtTheFirstCheckAfterTheCancel() {
        try (NDManager manager = model.manager().newSubManager()) {
            CountingFlag never = new CountingFlag(Integer.MAX_VALUE);
            Cancellation.whileChecking(never, () -> unetPass(manager));
            int checks = never.reads.get();
            assertTrue(checks >= 10, "a U-Net pass checks for cancellation at each layer; it checked " + checks + " times");

            CountingFlag halfway = new CountingFlag(checks / 2);
            assertThrows(CancellationException.class, () -> Cancellation.whileChecking(halfway, () -> unetPass(manager)));
            assertEquals(checks / 2, halfway.reads.get(), "the pass stopped at the check that saw the cancel");

            assertDoesNotThrow(() -> unetPass(manager), "a pass run without a flag is never cancelled");
            Cancellation.check(); // the flag was removed when whileChecking ended
        }
    }

    @Test
    void aJobCancelledDuringItsFirstStepStopsBeforeTheStepEnds() {
        GenerationRequest request = GenerationRequest.builder("a cat").steps(4).seed(1).build();
        AtomicInteger stepsHeard = new AtomicInteger();
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        // read 1: the check before step 1; read 2 onwards: inside step 1's U-Net pass
        CountingFlag duringStepOne = new CountingFlag(3);
        assertThrows(CancellationException.class,
                () -> pipeline.generate(request, (step, total, preview) -> stepsHeard.set(step), duringStepOne));
        assertEquals(0, stepsHeard.get(), "step 1 never completed");
    }

    @Test
    void aJobCancelledAfterItsLastStepIsNotDecoded() {
        GenerationRequest request = GenerationRequest.builder("a cat").steps(2).seed(1).build();
        AtomicBoolean cancelled = new AtomicBoolean();
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        GenerationListener cancelAtTheEnd = (step, total, preview) -> cancelled.set(step == total);
        assertThrows(CancellationException.class, () -> pipeline.generate(request, cancelAtTheEnd, cancelled::get));
    }

    @Test
    void aSharedUNetCallStopsOnlyWhenEveryJobInItIsCancelled() {
        StableDiffusionPipeline pipeline = new StableDiffusionPipeline(model);
        GenerationRequest request = GenerationRequest.builder("a cat").steps(4).seed(1).build();
        AtomicBoolean firstCancelled = new AtomicBoolean();
        AtomicBoolean secondCancelled = new AtomicBoolean();
        try (GenerationJob first = pipeline.start(request, SeededNoise.consecutive(1, 1), GenerationListener.NONE, firstCancelled::get);
             GenerationJob second = pipeline.start(request, SeededNoise.consecutive(2, 1), GenerationListener.NONE, secondCancelled::get)) {
            firstCancelled.set(true);
            assertDoesNotThrow(() -> pipeline.step(List.of(first, second)), "the second job still needs the call");
            secondCancelled.set(true);
            assertThrows(CancellationException.class, () -> pipeline.step(List.of(first, second)));
        }
    }
}
