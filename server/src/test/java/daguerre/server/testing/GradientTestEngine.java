package daguerre.server.testing;

import daguerre.diffusion.pipeline.Infotext;
import daguerre.diffusion.pipeline.PngText;
import daguerre.server.jobs.EngineResult;
import daguerre.server.jobs.GenerationParams;
import daguerre.server.jobs.ImageEngine;
import daguerre.server.jobs.ModelDescriptor;
import daguerre.server.jobs.SamplerDescriptor;
import daguerre.server.jobs.StepListener;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.imageio.ImageIO;

/**
 * TEST DOUBLE of {@link ImageEngine} for HTTP and queue tests: no diffusion at all. Each image is
 * a colour gradient derived from its seed and its CLIP skip (so that a test sees whether the setting
 * reached the engine), each "step" sleeps a few milliseconds, cancellation and finishing early are
 * honoured between steps, and a prompt containing {@code FAIL} makes the job fail. While
 * {@link #hold()} is on, jobs stop after their first step until {@link #release()}.
 */
public final class GradientTestEngine implements ImageEngine {

    private final long stepMillis;
    private final AtomicInteger started = new AtomicInteger();
    private volatile boolean holding;
    private final List<ModelDescriptor> extraModels;

    /** @param extraModels models listed after "tiny" and "wide" (their jobs run as this engine's own) */
    public GradientTestEngine(long stepMillis, ModelDescriptor... extraModels) {
        this.stepMillis = stepMillis;
        this.extraModels = List.of(extraModels);
    }

    /** Makes jobs wait after their first step (still honouring cancellation). */
    public void hold() {
        holding = true;
    }

    public void release() {
        holding = false;
    }

    /** How many jobs this engine started. */
    public int started() {
        return started.get();
    }

    @Override
    public List<ModelDescriptor> models() {
        List<ModelDescriptor> models = new java.util.ArrayList<>(List.of(
                new ModelDescriptor("tiny", "tiny", "0123456789", 64, 64, "test double, 64 px", TestModelCards.emoji("tiny"), 12),
                new ModelDescriptor("wide", "wide", "abcdef0123", 128, 64, "test double, 128x64 px", null, 4)));
        models.addAll(extraModels);
        return models;
    }

    @Override
    public String defaultModelId() {
        return "tiny";
    }

    @Override
    public List<SamplerDescriptor> samplers() {
        return List.of(new SamplerDescriptor("ddpm", "DDPM"), new SamplerDescriptor("ddim", "DDIM"),
                new SamplerDescriptor("pndm", "PLMS"), new SamplerDescriptor("lms", "LMS"), new SamplerDescriptor("euler", "Euler"),
                new SamplerDescriptor("euler_a", "Euler a"), new SamplerDescriptor("dpmpp_2m", "DPM++ 2M"),
                new SamplerDescriptor("dpmpp_2m_karras", "DPM++ 2M Karras"), new SamplerDescriptor("lcm", "LCM"));
    }

    @Override
    public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled) throws Exception {
        return generate(params, listener, cancelled, () -> false);
    }

    @Override
    public EngineResult generate(GenerationParams params, StepListener listener, BooleanSupplier cancelled,
            BooleanSupplier finishEarly) throws Exception {
        started.incrementAndGet();
        for (int step = 1; step <= params.steps() && !finishEarly.getAsBoolean(); step++) {
            if (cancelled.getAsBoolean()) {
                throw new CancellationException("cancelled at step " + step);
            }
            Thread.sleep(stepMillis);
            listener.onStep(step, params.steps(), listener.wantsPreview(step) ? gradient(params.seed(), 16, 16) : null);
            while (holding && step == 1 && !finishEarly.getAsBoolean()) {
                if (cancelled.getAsBoolean()) {
                    throw new CancellationException("cancelled while held");
                }
                Thread.sleep(2);
            }
        }
        if (params.prompt().contains("FAIL")) {
            throw new IllegalStateException("the test engine was asked to fail");
        }
        List<EngineResult.Image> images = new ArrayList<>();
        for (int i = 0; i < params.n(); i++) {
            long seed = params.seed() + i;
            Map<String, String> fields = new LinkedHashMap<>();
            fields.put("Steps", Integer.toString(params.steps()));
            fields.put("Sampler", params.sampler());
            fields.put("CFG scale", Infotext.number(params.guidanceScale()));
            fields.put("Seed", Long.toString(seed));
            fields.put("Size", params.width() + "x" + params.height());
            fields.put("Model", params.model());
            if (params.clipSkip() > 1) {
                fields.put("Clip skip", Integer.toString(params.clipSkip()));
            }
            if (params.cacheInterval() > 1) {
                fields.put("Cache interval", Integer.toString(params.cacheInterval()));
            }
            String infotext = new Infotext(params.prompt(), params.negativePrompt(), fields).format();
            byte[] png = gradient(seed + (params.clipSkip() - 1L) * (1L << 16), params.width(), params.height());
            images.add(new EngineResult.Image(PngText.withText(png, "parameters", infotext),
                    seed, infotext));
        }
        return new EngineResult(images);
    }

    /** A gradient whose colours depend on the seed. */
    static byte[] gradient(long seed, int width, int height) throws IOException {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int r0 = (int) (seed & 0xff);
        int g0 = (int) ((seed >> 8) & 0xff);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                image.setRGB(x, y, ((r0 + x) & 0xff) << 16 | ((g0 + y) & 0xff) << 8 | (int) ((seed >> 16) & 0xff));
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(image, "png", png);
        return png.toByteArray();
    }
}
