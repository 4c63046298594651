package daguerre.server.jobs;

import java.util.List;

/**
 * The images of one finished job.
 *
 * @param images one entry per image, in batch order
 */
public record EngineResult(List<Image> images) {

    public EngineResult {
        images = List.copyOf(images);
    }

    /**
     * One generated image.
     *
     * @param png the PNG bytes, already carrying A1111's {@code parameters} text chunk
     * @param seed the seed this image was made with
     * @param infotext the A1111 infotext, the same text as the {@code parameters} chunk
     */
    public record Image(byte[] png, long seed, String infotext) {}
}
