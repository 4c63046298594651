package daguerre.diffusion.text;

/**
 * One text-model input of a long prompt: BOS, up to 75 prompt tokens, EOS, padding, with a weight per position.
 *
 * @param ids token ids [77] (chunk length + 2)
 * @param multipliers emphasis weight of each position [77]; 1 for BOS, EOS and padding
 */
public record PromptChunk(int[] ids, float[] multipliers) {

    public PromptChunk {
        if (ids.length != multipliers.length) {
            throw new IllegalArgumentException("ids (" + ids.length + ") and multipliers (" + multipliers.length + ") differ in length");
        }
        ids = ids.clone();
        multipliers = multipliers.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public float[] multipliers() {
        return multipliers.clone();
    }
}
