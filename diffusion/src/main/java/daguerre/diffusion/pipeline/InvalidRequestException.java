package daguerre.diffusion.pipeline;

/** A generation request with an invalid value; {@link #field()} names it (API field names). */
public class InvalidRequestException extends IllegalArgumentException {

    private final String field;

    public InvalidRequestException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
