package daguerre.diffusion.vae;

import ai.djl.ndarray.NDArray;
import daguerre.diffusion.nn.Attention;
import daguerre.diffusion.nn.FusedOps;
import daguerre.diffusion.nn.GroupNorm;
import daguerre.diffusion.nn.Kernels;
import daguerre.diffusion.nn.Linear;
import daguerre.diffusion.nn.Module;
import daguerre.diffusion.nn.Scopes;

/**
 * The VAE mid-block's spatial self-attention, as diffusers' {@code Attention} configured with a
 * group norm, one head, biased projections and a residual: x + to_out(attention(group_norm(x)))
 * over the H*W positions. Keys {@code group_norm}, {@code to_q}, {@code to_k}, {@code to_v},
 * {@code to_out.0}; {@code to_out.1} is Dropout: no weights.
 */
public final class AttentionBlock extends Module {

    private static final float GROUP_NORM_EPS = 1e-6f;

    private final GroupNorm groupNorm;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;

    public AttentionBlock(int channels, int groups) {
        this.groupNorm = child("group_norm", new GroupNorm(groups, channels, GROUP_NORM_EPS));
        this.toQ = child("to_q", new Linear(channels, channels, true));
        this.toK = child("to_k", new Linear(channels, channels, true));
        this.toV = child("to_v", new Linear(channels, channels, true));
        this.toOut = child("to_out.0", new Linear(channels, channels, true));
        // to_out.1 is Dropout: no weights
    }

    /** [B, C, H, W] -> [B, C, H, W] */
    public NDArray forward(NDArray x) {
        return Scopes.scoped(() -> {
            long batch = x.getShape().get(0);
            long channels = x.getShape().get(1);
            long height = x.getShape().get(2);
            long width = x.getShape().get(3);
            // [B, C, H, W] -> [B, H*W, C]
            NDArray tokens = groupNorm.forward(x).reshape(batch, channels, height * width).transpose(0, 2, 1);
            // training takes the plain path: fused kernels carry no gradient (see Kernels.training)
            NDArray attended = Kernels.fuse(FusedOps.Kernel.ATTENTION)
                    ? Attention.attend(toQ.forward(tokens), toK.forward(tokens), toV.forward(tokens), 1)
                    : Attention.attendUnfused(toQ.forward(tokens), toK.forward(tokens), toV.forward(tokens), 1);
            // [B, H*W, C] -> [B, C, H, W]
            NDArray out = toOut.forward(attended).transpose(0, 2, 1).reshape(batch, channels, height, width);
            return out.add(x);
        }, x);
    }
}
