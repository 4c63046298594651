package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import daguerre.weights.Golden;
import daguerre.weights.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Comparison against golden tensors, with tolerances taken from the case README's observed-error table. */
public final class Parity {

    /** How many times the reference's own float32-vs-float64 error we allow. */
    public static final double FACTOR = 10;

    private static final Pattern ROW = Pattern.compile("^\\|\\s*`([^`]+)`\\s*\\|\\s*([0-9.eE+-]+)\\s*\\|", Pattern.MULTILINE);

    private Parity() {}

    /** The "max abs err (f32 vs f64)" column of a case README's table, by tensor name. */
    public static Map<String, Double> observedErrors(String caseName) {
        try {
            String readme = Files.readString(Golden.file(caseName, "README.md"));
            Map<String, Double> errors = new HashMap<>();
            Matcher m = ROW.matcher(readme);
            while (m.find()) {
                errors.put(m.group(1), Double.parseDouble(m.group(2)));
            }
            if (errors.isEmpty()) {
                fail(caseName + "/README.md has no observed-error table");
            }
            return errors;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final Pattern SUGGESTED_ATOL = Pattern.compile("Suggested tolerance: atol ([0-9.]+(?:[eE][+-]?[0-9]+)?)");

    /** The "Suggested tolerance: atol X" a case README states for the tensors its table does not list. */
    public static double suggestedAtol(String caseName) {
        try {
            Matcher m = SUGGESTED_ATOL.matcher(Files.readString(Golden.file(caseName, "README.md")));
            if (!m.find()) {
                fail(caseName + "/README.md states no \"Suggested tolerance: atol X\"");
            }
            return Double.parseDouble(m.group(1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The allowed max abs error for {@code name}: FACTOR times the README's observed error. */
    public static double tolerance(Map<String, Double> observed, String name) {
        Double error = observed.get(name);
        if (error == null) {
            fail("no observed error listed for " + name);
        }
        return FACTOR * error;
    }

    /** A golden tensor as an array of {@code manager}. */
    public static NDArray load(SafetensorsFile file, String name, NDManager manager) throws IOException {
        return manager.create(file.floats(name), new Shape(file.info(name).shape()));
    }

    /**
     * Golden timesteps as an array of {@code manager}: I64 stays INT64 (integer timesteps, exact); F32 and
     * F64 (fractional timesteps, which diffusers accepts too) become FLOAT32, the precision the U-Net's
     * timestep embedding computes in.
     */
    public static NDArray timesteps(SafetensorsFile file, String name, NDManager manager) throws IOException {
        Shape shape = new Shape(file.info(name).shape());
        return switch (file.info(name).dtype()) {
            case I64 -> manager.create(file.longs(name), shape);
            case F32, F64 -> manager.create(file.floats(name), shape);
            default -> throw new AssertionError(file.path() + ": timesteps '" + name + "' are "
                    + file.info(name).dtype() + "; expected I64, F32 or F64");
        };
    }

    /** Asserts same shape and max |expected - actual| <= tolerance; returns the max abs error. */
    public static double assertClose(String what, float[] expected, long[] expectedShape, NDArray actual, double tolerance) {
        assertArrayEquals(expectedShape, actual.getShape().getShape(), what + ": shape");
        float[] values = actual.toFloatArray();
        double max = 0;
        for (int i = 0; i < values.length; i++) {
            double diff = Math.abs((double) expected[i] - values[i]);
            if (!(diff <= max)) {
                max = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff;
            }
        }
        double error = max;
        assertTrue(error <= tolerance, () -> what + ": max abs error " + error + " exceeds " + tolerance);
        return error;
    }

    /** Compares golden tensor {@code name} of {@code file} with {@code actual}; returns the max abs error. */
    public static double assertClose(SafetensorsFile file, String name, NDArray actual, double tolerance) {
        try {
            return assertClose(name, file.floats(name), file.info(name).shape(), actual, tolerance);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
