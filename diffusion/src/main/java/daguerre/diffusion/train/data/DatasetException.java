package daguerre.diffusion.train.data;

/** Bad or unreadable training data; the message names the file, line or entry at fault. */
public class DatasetException extends RuntimeException {

    public DatasetException(String message) {
        super(message);
    }

    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
