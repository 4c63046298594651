package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.function.Supplier;

/**
 * Keeps a block's temporaries short-lived. DJL puts an operation's result in the manager of its
 * first operand, so a forward pass creates everything in the input's manager (never in the
 * weights'). {@link #scoped} moves the inputs into a child manager for the duration of a block,
 * then keeps only the block's output: peak memory stays at one block's temporaries instead of a
 * whole network's.
 */
public final class Scopes {

    private Scopes() {}

    /**
     * Runs {@code body} with {@code inputs} temporarily attached to a child of the first input's
     * manager; the returned array is attached to that manager, everything else the body created is
     * closed, and the inputs go back to their own managers. The body must return a new array, not
     * one of the inputs. Null inputs are skipped.
     */
    public static NDArray scoped(Supplier<NDArray> body, NDArray... inputs) {
        return scopedList(() -> new NDList(body.get()), inputs).get(0);
    }

    /**
     * As {@link #scoped(Supplier, NDArray...)} for a body with several outputs: every array of the
     * returned list is attached to the first input's manager.
     */
    public static NDList scopedList(Supplier<NDList> body, NDArray... inputs) {
        NDManager parent = inputs[0].getManager();
        try (NDManager sub = parent.newSubManager()) {
            for (NDArray input : inputs) {
                if (input != null && input.getManager() != sub) {
                    input.tempAttach(sub);
                }
            }
            NDList out = body.get();
            out.attach(parent);
            return out;
        }
    }
}
