package daguerre.diffusion.nn;

import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Lets a long forward pass stop part-way. A caller runs a pass {@link #whileChecking} a
 * cancellation flag; the layers call {@link #check} at their start (every convolution, every
 * attention call and every chunk of queries within one), so a cancelled pass stops within one
 * such operation instead of at the end of a denoising step or of a VAE decode, which at large
 * sizes take minutes on a CPU. The flag belongs to the calling thread: passes on other threads
 * (other jobs, training) are unaffected, and a pass run without a flag never stops.
 */
public final class Cancellation {

    private static final ThreadLocal<BooleanSupplier> FLAG = new ThreadLocal<>();

    private Cancellation() {}

    /**
     * Runs {@code body} on this thread with {@code cancelled} as the flag that {@link #check}
     * reads; the previous flag (if any) is restored afterwards.
     */
    public static <T> T whileChecking(BooleanSupplier cancelled, Supplier<T> body) {
        BooleanSupplier previous = FLAG.get();
        FLAG.set(cancelled);
        try {
            return body.get();
        } finally {
            if (previous == null) {
                FLAG.remove();
            } else {
                FLAG.set(previous);
            }
        }
    }

    /** Throws {@link CancellationException} when this thread's pass has been cancelled. */
    public static void check() {
        BooleanSupplier cancelled = FLAG.get();
        if (cancelled != null && cancelled.getAsBoolean()) {
            throw new CancellationException("cancelled during a forward pass");
        }
    }
}
