package daguerre.weights.safetensors;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;

/**
 * A checkpoint refused because it is a Python pickle (or a PyTorch zip archive holding one):
 * {@code .ckpt}, {@code .pt}, {@code .pth}, {@code .bin}, or such a payload under another name.
 * Unpickling can execute arbitrary code, so Daguerre never opens these; the message says how to
 * convert the model.
 */
public final class UnsafeCheckpointException extends InvalidTensorFileException {

    /** File name extensions of pickle-based PyTorch checkpoints. */
    public static final Set<String> PICKLE_EXTENSIONS = Set.of("ckpt", "pt", "pth", "bin", "pkl", "pickle");

    private static final String WHY = "pickle-based checkpoints are refused because unpickling can execute arbitrary code";

    private static final String HOW = "convert it to .safetensors with a trusted tool in an isolated environment "
            + "(for example a throwaway container or VM with diffusers' conversion scripts or the safetensors "
            + "'convert' tool), or use the model's diffusers-format folder with .safetensors weights instead";

    private UnsafeCheckpointException(Path file, String what) {
        super(file, what + "; " + WHY + ". To use this model, " + HOW + ".");
    }

    /** Whether {@code file}'s name ends in a pickle checkpoint extension ({@link #PICKLE_EXTENSIONS}). */
    public static boolean hasPickleExtension(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot >= 0 && PICKLE_EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** Refusal of a file by its extension. */
    public static UnsafeCheckpointException byExtension(Path file) {
        String name = file.getFileName().toString();
        return new UnsafeCheckpointException(file, "'" + name.substring(name.lastIndexOf('.'))
                + "' is a PyTorch pickle checkpoint format");
    }

    /** Refusal of a file whose bytes are a zip archive (the PyTorch {@code torch.save} format). */
    public static UnsafeCheckpointException zipPayload(Path file) {
        return new UnsafeCheckpointException(file, "the file is a zip archive (PyTorch torch.save format holding a "
                + "pickle), not a safetensors file, whatever its name");
    }

    /** Refusal of a file whose bytes are a raw pickle stream. */
    public static UnsafeCheckpointException picklePayload(Path file) {
        return new UnsafeCheckpointException(file, "the file is a Python pickle stream, not a safetensors file, "
                + "whatever its name");
    }

    /** Refusal of a folder whose weights exist only as pickle files ({@code .bin}, {@code .ckpt}, ...). */
    public static UnsafeCheckpointException pickleOnly(Path folder, Path pickleFile) {
        return new UnsafeCheckpointException(folder, "the only weights here are pickle files such as '"
                + pickleFile.getFileName() + "' (no .safetensors)");
    }
}
