package daguerre.diffusion.train.data;

import java.util.List;

/**
 * Image and caption pairs for training or evaluation. Every sample is an opaque sRGB image of
 * {@link #imageSize()} x {@link #imageSize()} pixels and its caption.
 *
 * <p>A dataset may vary its samples between epochs (the emoji recipe draws a new background
 * colour per sample each epoch); the result is a pure function of the dataset's seed, the epoch
 * and the index, so an interrupted training resumes with the same data. The order within an
 * epoch is fixed: the trainer shuffles indices with its own seeded generator.
 */
public interface ImageCaptionDataset {

    /** The side, in pixels, of every sample's square image. */
    int imageSize();

    /** The number of samples in every epoch. */
    int size();

    /**
     * Sample {@code index} of epoch {@code epoch}, decoded from disk and rendered.
     *
     * @param epoch the epoch, from 0
     * @param index from 0 to {@link #size()} - 1
     * @throws IndexOutOfBoundsException for an index outside the dataset
     * @throws DatasetException when the image cannot be read
     */
    Sample sample(long epoch, int index);

    /**
     * Every distinct caption this dataset can produce in any epoch, in a fixed order: the text a
     * tokenizer vocabulary is learned from.
     */
    List<String> captions();
}
