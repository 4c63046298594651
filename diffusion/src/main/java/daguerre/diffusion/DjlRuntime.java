package daguerre.diffusion;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * The one place where DJL's PyTorch engine is configured, before its first use.
 *
 * <p>Settings (each can be overridden by the same-named system property or environment variable):
 * <ul>
 *   <li>{@code ai.djl.offline=true}: DJL never downloads anything; the PyTorch native library is
 *       extracted from the {@code pytorch-native-cpu} jar on the classpath into DJL's cache
 *       ({@code ~/.djl.ai}, or {@code DJL_CACHE_DIR}).</li>
 *   <li>{@code ai.djl.pytorch.num_threads} = available cores (intra-op parallelism).</li>
 *   <li>{@code ai.djl.pytorch.num_interop_threads=1}: we run one graph at a time per worker.</li>
 *   <li>The process environment variable {@code OMP_WAIT_POLICY=PASSIVE}, unless it is already
 *       set: libtorch's OpenMP threads otherwise spin while they wait, and on a busy machine that
 *       spinning starves the thread doing the work (a default-model step measured 10x slower).
 *       OpenMP reads it once, when libtorch loads, so it is set here through libc's
 *       {@code setenv} before DJL loads the engine: {@code java -jar} gets the same setting as
 *       {@code ./daguerre}.</li>
 *   <li>The process environment variable {@code THP_MEM_ALLOC_ENABLE=1}, unless it is already set:
 *       libtorch's CPU allocator then asks for transparent huge pages ({@code madvise(MADV_HUGEPAGE)})
 *       for tensors of 2 MiB or more, so a fresh activation or weight copy faults in 2 MiB pages
 *       instead of 4 KiB ones. With SD 1.5 at 512 px and f16 weights the whole-process peak fell by
 *       about 0.1 GiB, at the same U-Net step time (docs/performance.md). It changes nothing where
 *       the kernel's {@code transparent_hugepage} mode is {@code never}; libtorch reads it once, at
 *       its first allocation.</li>
 * </ul>
 */
public final class DjlRuntime {

    static final String WAIT_POLICY = "OMP_WAIT_POLICY";

    static final String HUGE_PAGES = "THP_MEM_ALLOC_ENABLE";

    private static boolean configured;

    private DjlRuntime() {}

    /** Applies the settings above (idempotent) and returns the PyTorch engine. */
    public static synchronized Engine engine() {
        if (!configured) {
            setDefault("ai.djl.offline", "true");
            setDefault("ai.djl.default_engine", "PyTorch");
            setDefault("ai.djl.pytorch.num_threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
            setDefault("ai.djl.pytorch.num_interop_threads", "1");
            setEnvironmentDefault(WAIT_POLICY, "PASSIVE");
            setEnvironmentDefault(HUGE_PAGES, "1");
            configured = true;
        }
        return Engine.getEngine("PyTorch");
    }

    /** A new root manager on the CPU, for a model's weights or a job. */
    public static NDManager newManager() {
        return engine().newBaseManager(Device.cpu());
    }

    /** The OpenMP wait policy libtorch runs with (the process environment, as libtorch reads it). */
    public static String ompWaitPolicy() {
        engine();
        String policy = LibC.INSTANCE.getenv(WAIT_POLICY);
        return policy == null ? "unset" : policy;
    }

    /** libtorch's intra-op thread count. */
    public static int threads() {
        engine();
        return JniUtils.getNumThreads();
    }

    /** libtorch's inter-op thread count (for parallel graph branches; set to 1 above). */
    public static int interopThreads() {
        engine();
        return JniUtils.getNumInteropThreads();
    }

    /** {@code THP_MEM_ALLOC_ENABLE} in libtorch's process environment ({@code 1} unless the user set it), or {@code unset}. */
    public static String hugePageSetting() {
        engine();
        String value = LibC.INSTANCE.getenv(HUGE_PAGES);
        return value == null ? "unset" : value;
    }

    /**
     * Hands the native heap's free memory back to the system ({@code malloc_trim(0)}): glibc keeps
     * what libtorch frees below its (self-raising) mmap threshold in per-thread arenas, so after a
     * model is built, or a large image decoded, tens to hundreds of MiB of freed tensors would stay
     * resident. Returns whether any memory was released. A no-op where libc has no malloc_trim.
     */
    public static boolean releaseFreedNativeMemory() {
        try {
            return LibC.INSTANCE.malloc_trim(0) != 0;
        } catch (UnsatisfiedLinkError notGlibc) {
            return false;
        }
    }

    /** Sets a variable in the process environment (which {@link System#getenv} does not see again) unless it is set. */
    private static void setEnvironmentDefault(String name, String value) {
        if (LibC.INSTANCE.setenv(name, value, 0) != 0) {
            throw new IllegalStateException("setenv(" + name + ") failed: errno " + Native.getLastError());
        }
    }

    /** The libc calls we need; JNA binds them by name. */
    private interface LibC extends Library {
        LibC INSTANCE = Native.load("c", LibC.class);

        int setenv(String name, String value, int overwrite);

        String getenv(String name);

        int malloc_trim(long pad);
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }
}
