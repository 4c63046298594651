package daguerre.diffusion.pipeline;

import java.awt.image.BufferedImage;
import java.util.Objects;

/**
 * Inpainting: which part of the init image to repaint and how, with A1111's options (their API names
 * in brackets). The mask has the init image's size; white repaints, black keeps (A1111 and diffusers);
 * an RGBA mask whose alpha is not all opaque uses its alpha (A1111's {@code create_binary_mask}).
 *
 * @param mask the mask ({@code mask})
 * @param maskBlur Gaussian blur of the mask in pixels, 0..{@value #MAX_MASK_BLUR} ({@code mask_blur}; A1111's default 4)
 * @param invert repaint the black part instead ({@code inpainting_mask_invert}; A1111's "Inpaint not masked")
 * @param fill what the masked area starts from ({@code inpainting_fill}, 0..3)
 * @param fullRes "Only masked" ({@code inpaint_full_res}): generate the padded bounding box of the mask at
 *                the request's size, then scale it back and paste it in
 * @param fullResPadding pixels around the mask's box for "Only masked", 0..{@value #MAX_PADDING}
 *                ({@code inpaint_full_res_padding})
 */
public record InpaintOptions(BufferedImage mask, int maskBlur, boolean invert, Fill fill, boolean fullRes, int fullResPadding) {

    public static final int DEFAULT_MASK_BLUR = 4;
    public static final int DEFAULT_PADDING = 32;
    public static final int MAX_MASK_BLUR = 64;
    public static final int MAX_PADDING = 256;

    /** A1111's {@code inpainting_fill}: what the masked area of the init image becomes before sampling. */
    public enum Fill {
        /** 0: the masked area is filled with the colours around it (A1111's masking.fill). */
        FILL("fill"),
        /** 1: the init image as it is (A1111's default). */
        ORIGINAL("original"),
        /** 2: the encoded masked area is replaced by Gaussian noise. */
        LATENT_NOISE("latent noise"),
        /** 3: the encoded masked area is zeroed. */
        LATENT_NOTHING("latent nothing");

        private final String a1111Name;

        Fill(String a1111Name) {
            this.a1111Name = a1111Name;
        }

        /** The name A1111 writes as {@code Masked content}. */
        public String a1111Name() {
            return a1111Name;
        }

        /** A1111's integer {@code inpainting_fill} (0..3). */
        public int a1111Index() {
            return ordinal();
        }

        /** The fill for A1111's {@code inpainting_fill} value. */
        public static Fill fromA1111Index(int index) {
            if (index < 0 || index >= values().length) {
                throw new InvalidRequestException("inpainting_fill", "inpainting_fill must be 0 (fill), 1 (original), "
                        + "2 (latent noise) or 3 (latent nothing), got " + index);
            }
            return values()[index];
        }
    }

    public InpaintOptions {
        require(mask != null, "mask", "mask is required for inpainting");
        require(maskBlur >= 0 && maskBlur <= MAX_MASK_BLUR, "mask_blur",
                "mask_blur must be between 0 and " + MAX_MASK_BLUR + " pixels, got " + maskBlur);
        require(fill != null, "inpainting_fill", "inpainting_fill is required");
        require(fullResPadding >= 0 && fullResPadding <= MAX_PADDING, "inpaint_full_res_padding",
                "inpaint_full_res_padding must be between 0 and " + MAX_PADDING + " pixels, got " + fullResPadding);
    }

    /**
     * A1111's UI defaults for {@code mask}: blur 4, not inverted, original content, whole picture, padding 32.
     * (Its {@code /sdapi/v1/img2img} takes its processing class's defaults instead: blur 4, fill 0,
     * {@code inpaint_full_res} true, padding 0.)
     */
    public static InpaintOptions of(BufferedImage mask) {
        return new InpaintOptions(mask, DEFAULT_MASK_BLUR, false, Fill.ORIGINAL, false, DEFAULT_PADDING);
    }

    public InpaintOptions withMaskBlur(int value) {
        return new InpaintOptions(mask, value, invert, fill, fullRes, fullResPadding);
    }

    public InpaintOptions withInvert(boolean value) {
        return new InpaintOptions(mask, maskBlur, value, fill, fullRes, fullResPadding);
    }

    public InpaintOptions withFill(Fill value) {
        return new InpaintOptions(mask, maskBlur, invert, Objects.requireNonNull(value, "fill"), fullRes, fullResPadding);
    }

    /** "Only masked" with {@code padding} pixels around the mask, or the whole picture ({@code enabled} false). */
    public InpaintOptions withFullRes(boolean enabled, int padding) {
        return new InpaintOptions(mask, maskBlur, invert, fill, enabled, padding);
    }

    private static void require(boolean condition, String field, String message) {
        if (!condition) {
            throw new InvalidRequestException(field, message);
        }
    }
}
