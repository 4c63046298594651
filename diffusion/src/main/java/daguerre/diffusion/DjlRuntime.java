package daguerre.diffusion;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

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
 * </ul>
 */
public final class DjlRuntime {

    private static boolean configured;

    private DjlRuntime() {}

    /** Applies the settings above (idempotent) and returns the PyTorch engine. */
    public static synchronized Engine engine() {
        if (!configured) {
            setDefault("ai.djl.offline", "true");
            setDefault("ai.djl.default_engine", "PyTorch");
            setDefault("ai.djl.pytorch.num_threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
            setDefault("ai.djl.pytorch.num_interop_threads", "1");
            configured = true;
        }
        return Engine.getEngine("PyTorch");
    }

    /** A new root manager on the CPU, for a model's weights or a job. */
    public static NDManager newManager() {
        return engine().newBaseManager(Device.cpu());
    }

    private static void setDefault(String key, String value) {
        if (System.getProperty(key) == null && System.getenv(key) == null) {
            System.setProperty(key, value);
        }
    }
}
