package daguerre.diffusion.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The hires-fix upscalers that work, by A1111 name. Latent ones resample the latents as A1111's
 * {@code latent_upscale_modes} (PyTorch {@code F.interpolate}): "Latent" (bilinear), "Latent
 * (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)", "Latent (nearest)", "Latent
 * (nearest-exact)". Pixel ones resize the decoded images as Pillow: "None" (A1111 then resizes with
 * Lanczos), "Lanczos", "Nearest". More (e.g. a learned ESRGAN-family network) can be added with
 * {@link #register}.
 */
public final class Upscalers {

    private static final Map<String, Upscaler> REGISTERED = new LinkedHashMap<>();

    static {
        latent("Latent", Resampling.Filter.BILINEAR);
        latent("Latent (antialiased)", Resampling.Filter.BILINEAR_ANTIALIAS);
        latent("Latent (bicubic)", Resampling.Filter.BICUBIC);
        latent("Latent (bicubic antialiased)", Resampling.Filter.BICUBIC_ANTIALIAS);
        latent("Latent (nearest)", Resampling.Filter.NEAREST);
        latent("Latent (nearest-exact)", Resampling.Filter.NEAREST_EXACT);
        pixel("None", Resampling.Filter.LANCZOS);
        pixel("Lanczos", Resampling.Filter.LANCZOS);
        pixel("Nearest", Resampling.Filter.NEAREST_EXACT);
    }

    private Upscalers() {}

    /** The upscaler called {@code name} (case-insensitive), if it is registered. */
    public static synchronized Optional<Upscaler> find(String name) {
        return name == null ? Optional.empty() : Optional.ofNullable(REGISTERED.get(key(name)));
    }

    /** Every registered name, built-in ones first. */
    public static synchronized List<String> names() {
        List<String> names = new ArrayList<>();
        REGISTERED.values().forEach(u -> names.add(u.name()));
        return names;
    }

    /** Adds an upscaler (say, a learned one once its weights are loaded); a name may be registered once. */
    public static synchronized void register(Upscaler upscaler) {
        if (REGISTERED.putIfAbsent(key(upscaler.name()), upscaler) != null) {
            throw new IllegalArgumentException("an upscaler called " + upscaler.name() + " is already registered");
        }
    }

    private static String key(String name) {
        return name.trim().toLowerCase(Locale.ROOT);
    }

    private static void latent(String name, Resampling.Filter filter) {
        register(new Upscaler.Latent() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public NDArray upscale(NDArray latents, int height, int width) {
                Shape s = latents.getShape(); // [B, C, h, w]
                float[] out = Resampling.resize(latents.toType(DataType.FLOAT32, false).toFloatArray(),
                        (int) (s.get(0) * s.get(1)), (int) s.get(2), (int) s.get(3), height, width, filter);
                return latents.getManager().create(out, new Shape(s.get(0), s.get(1), height, width));
            }
        });
    }

    private static void pixel(String name, Resampling.Filter filter) {
        register(new Upscaler.Pixel() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public BufferedImage upscale(BufferedImage image, int width, int height) {
                return Resampling.resize(image, width, height, filter);
            }
        });
    }
}
