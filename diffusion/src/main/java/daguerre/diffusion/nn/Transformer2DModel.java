package daguerre.diffusion.nn;

import ai.djl.ndarray.NDArray;
import java.util.ArrayList;
import java.util.List;

/**
 * diffusers' {@code Transformer2DModel} for continuous inputs: the spatial transformer of the
 * U-Net's cross-attention blocks. GroupNorm (eps 1e-6) -> proj_in -> tokens [B, H*W, C] ->
 * transformer_blocks -> proj_out -> [B, C, H, W] -> + input. proj_in / proj_out are 1x1
 * convolutions applied before / after the reshape (SD 1.x) or Linear layers applied to the tokens
 * (SD 2.x {@code use_linear_projection}); the maths is the same.
 * Keys {@code norm}, {@code proj_in}, {@code transformer_blocks.N}, {@code proj_out}.
 */
public final class Transformer2DModel extends Module {

    private static final float GROUP_NORM_EPS = 1e-6f;

    private final GroupNorm norm;
    private final Conv2d convIn;
    private final Linear linearIn;
    private final List<BasicTransformerBlock> blocks = new ArrayList<>();
    private final Conv2d convOut;
    private final Linear linearOut;

    /**
     * @param channels input and token channels
     * @param heads attention heads (head dim = channels / heads)
     * @param contextDim channels of the cross-attention context
     * @param groups GroupNorm groups
     * @param linearProjection Linear proj_in/proj_out (SD 2.x) instead of 1x1 convolutions (SD 1.x)
     * @param layers number of transformer blocks (1 in SD 1.x / 2.x, up to 10 per level in SDXL)
     */
    public Transformer2DModel(int channels, int heads, int contextDim, int groups, boolean linearProjection, int layers) {
        this.norm = child("norm", new GroupNorm(groups, channels, GROUP_NORM_EPS));
        this.convIn = linearProjection ? null : child("proj_in", new Conv2d(channels, channels, 1, 1, 0));
        this.linearIn = linearProjection ? child("proj_in", new Linear(channels, channels, true)) : null;
        for (int i = 0; i < layers; i++) {
            blocks.add(child("transformer_blocks." + i, new BasicTransformerBlock(channels, heads, contextDim)));
        }
        this.convOut = linearProjection ? null : child("proj_out", new Conv2d(channels, channels, 1, 1, 0));
        this.linearOut = linearProjection ? child("proj_out", new Linear(channels, channels, true)) : null;
    }

    /**
     * x [B, C, H, W], context [B, T, contextDim] -> [B, C, H, W]. Records {@code norm},
     * {@code proj_in}, {@code transformer_blocks.N} ([B, H*W, C]) and its {@code .*},
     * {@code proj_out} (as the modules output them).
     */
    public NDArray forward(NDArray x, NDArray context, Capture capture) {
        return Scopes.scoped(() -> {
            long batch = x.getShape().get(0);
            long channels = x.getShape().get(1);
            long height = x.getShape().get(2);
            long width = x.getShape().get(3);
            NDArray h = Capture.record(capture, "norm", norm.forward(x));
            if (convIn != null) {
                h = Capture.record(capture, "proj_in", convIn.forward(h));
            }
            // [B, C, H, W] -> [B, H*W, C], tokens in row-major order over H then W
            h = h.transpose(0, 2, 3, 1).reshape(batch, height * width, channels);
            if (linearIn != null) {
                h = Capture.record(capture, "proj_in", linearIn.forward(h));
            }
            for (int i = 0; i < blocks.size(); i++) {
                h = Capture.record(capture, "transformer_blocks." + i,
                        blocks.get(i).forward(h, context, Capture.child(capture, "transformer_blocks." + i)));
            }
            if (linearOut != null) {
                h = Capture.record(capture, "proj_out", linearOut.forward(h));
            }
            // [B, H*W, C] -> [B, C, H, W]
            h = h.reshape(batch, height, width, channels).transpose(0, 3, 1, 2);
            if (convOut != null) {
                h = Capture.record(capture, "proj_out", convOut.forward(h));
            }
            return h.add(x);
        }, x, context);
    }
}
