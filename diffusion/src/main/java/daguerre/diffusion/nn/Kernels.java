package daguerre.diffusion.nn;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Which of the {@link FusedOps} kernels a network's forward pass uses: a value that each top-level
 * network (U-Net, VAE, text encoder) holds and applies to its own calls ({@link #run}), on the
 * calling thread, so that two models (or a benchmark's ablation and a running service) never see
 * each other's choice. Blocks ask {@link #fuse} while the pass runs; outside any pass every kernel
 * is in use, so a block trained on its own (not as part of a network) must run its forward pass
 * through {@link #run} as well.
 *
 * <p>The one "are we training?" check is {@link Module#isTraining()}, asked once per pass in
 * {@link #run}: a network whose weights take gradients runs with {@link #NONE}, because the fused
 * kernels run without autograd and their results cannot take part in a backward pass. (libtorch's
 * thread-local grad mode cannot tell: it is on by default on every thread DJL did not switch it
 * off for, such as a service's worker threads.)
 *
 * <p>It also carries the type the matrix products run in ({@link ComputePrecision}; float32 unless
 * a model was told otherwise), read by {@link Linear} and {@link Conv2d} through {@link #currentProducts()}.
 *
 * @param enabled the kernels in use
 * @param products the type of the linear layers' and convolutions' products: float32 or bfloat16, never auto
 */
public record Kernels(Set<FusedOps.Kernel> enabled, ComputePrecision products) {

    /** Every fused kernel (the default). */
    public static final Kernels ALL = new Kernels(EnumSet.allOf(FusedOps.Kernel.class));
    /** None: the plain DJL paths everywhere (the reference the tests compare with). */
    public static final Kernels NONE = new Kernels(EnumSet.noneOf(FusedOps.Kernel.class));

    private static final ThreadLocal<Kernels> CURRENT = ThreadLocal.withInitial(() -> ALL);

    public Kernels {
        enabled = Collections.unmodifiableSet(enabled.isEmpty() ? EnumSet.noneOf(FusedOps.Kernel.class) : EnumSet.copyOf(enabled));
        if (products == ComputePrecision.AUTO) {
            throw new IllegalArgumentException("resolve the compute precision before a pass uses it (ComputePrecision.resolve)");
        }
    }

    /** These kernels with float32 products. */
    public Kernels(Set<FusedOps.Kernel> enabled) {
        this(enabled, ComputePrecision.FLOAT32);
    }

    /** This set with its matrix products in {@code products} (float32 or bfloat16). */
    public Kernels withProducts(ComputePrecision products) {
        return new Kernels(enabled, products);
    }

    /** {@link #ALL} or {@link #NONE}. */
    public static Kernels all(boolean fused) {
        return fused ? ALL : NONE;
    }

    /** This set less {@code kernel}. */
    public Kernels without(FusedOps.Kernel kernel) {
        EnumSet<FusedOps.Kernel> rest = enabled.isEmpty() ? EnumSet.noneOf(FusedOps.Kernel.class) : EnumSet.copyOf(enabled);
        rest.remove(kernel);
        return new Kernels(rest, products);
    }

    /** Whether the forward pass running on this thread uses {@code kernel}. */
    public static boolean fuse(FusedOps.Kernel kernel) {
        return CURRENT.get().enabled.contains(kernel);
    }

    /** The type the matrix products of the forward pass running on this thread use (float32 outside any pass). */
    public static ComputePrecision currentProducts() {
        return CURRENT.get().products;
    }

    /** A pass of {@code network} with this set, or with {@link #NONE} while the network is being trained. */
    public <T> T run(Module network, Supplier<T> pass) {
        return (network.isTraining() ? NONE : this).apply(pass);
    }

    /** Runs {@code pass} with this set as the one {@link #fuse} answers from on this thread, then restores the previous one. */
    public <T> T apply(Supplier<T> pass) {
        Kernels previous = CURRENT.get();
        CURRENT.set(this);
        try {
            return pass.get();
        } finally {
            CURRENT.set(previous);
        }
    }
}
