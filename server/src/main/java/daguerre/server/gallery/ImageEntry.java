package daguerre.server.gallery;

/**
 * One image of the gallery, as indexed.
 *
 * @param id the opaque image id
 * @param jobId the job that made it
 * @param prompt the prompt
 * @param negativePrompt the negative prompt
 * @param model the model id
 * @param sampler the sampler API name
 * @param seed the seed of this image
 * @param steps the denoising steps
 * @param guidanceScale the guidance scale
 * @param width the width in pixels
 * @param height the height in pixels
 * @param createdAt when it was stored, epoch milliseconds
 * @param favorite whether it is marked as a favourite
 * @param infotext the A1111 infotext
 * @param request the full native request of its job, as JSON
 * @param board the id of the board it is on, or null
 */
public record ImageEntry(
        String id,
        String jobId,
        String prompt,
        String negativePrompt,
        String model,
        String sampler,
        long seed,
        int steps,
        double guidanceScale,
        int width,
        int height,
        long createdAt,
        boolean favorite,
        String infotext,
        String request,
        String board) {}
