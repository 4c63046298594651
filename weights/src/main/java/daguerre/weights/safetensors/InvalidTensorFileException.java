package daguerre.weights.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/** A tensor file that is malformed or refused; the message names the file and, where known, the tensor. */
public class InvalidTensorFileException extends IOException {

    public InvalidTensorFileException(Path file, String message) {
        super(file + ": " + message);
    }

    public InvalidTensorFileException(Path file, String tensor, String message) {
        super(file + ": tensor '" + tensor + "': " + message);
    }
}
