package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;

/**
 * Collects named intermediate outputs of a forward pass, for parity tests and debugging. Names are
 * dotted module paths as in the golden {@code intermediates.safetensors} files
 * ({@code down_blocks.0.attentions.0.proj_in}). Blocks take a nullable {@code Capture}; with
 * {@code null} (the normal path) nothing is recorded and nothing is copied. When capturing, each
 * recorded output is copied into the capture's own manager, so it outlives the forward pass's
 * temporaries.
 */
public final class Capture {

    private final Map<String, NDArray> sink;
    private final NDManager owner;
    private final String prefix;

    private Capture(Map<String, NDArray> sink, NDManager owner, String prefix) {
        this.sink = sink;
        this.owner = owner;
        this.prefix = prefix;
    }

    /** A capture writing copies owned by {@code owner} into {@code sink}, with no name prefix. */
    public static Capture into(Map<String, NDArray> sink, NDManager owner) {
        return new Capture(sink, owner, "");
    }

    /** A capture for the child module {@code key}: names recorded through it get the prefix {@code key.}. */
    public Capture child(String key) {
        return new Capture(sink, owner, prefix + key + ".");
    }

    /** Records a copy of {@code value} as {@code prefix + key}. */
    public void put(String key, NDArray value) {
        NDArray copy = value.duplicate();
        copy.attach(owner);
        sink.put(prefix + key, copy);
    }

    /** {@code capture.child(key)}, or null when {@code capture} is null. */
    public static Capture child(Capture capture, String key) {
        return capture == null ? null : capture.child(key);
    }

    /** Records {@code value} under {@code key} when {@code capture} is not null; returns {@code value}. */
    public static NDArray record(Capture capture, String key, NDArray value) {
        if (capture != null) {
            capture.put(key, value);
        }
        return value;
    }
}
