/**
 * Training data for the trainer: the {@link daguerre.diffusion.train.data.ImageCaptionDataset}
 * interface, a generic folder dataset ({@code metadata.jsonl} with {@code file_name} and
 * {@code text}), the emoji recipe of the shipped default model (captions, background palette,
 * skin-tone sampling, held-out split, object-colour references) and the CIELAB helpers that its
 * evaluation uses. Plain Java and {@code javax.imageio}; the data format and the fetch script are
 * documented in {@code weights/default/DATA.md}.
 */
package daguerre.diffusion.train.data;
