package daguerre.server.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Looks up a setting by its flag name ({@code max-width}): the environment
 * ({@code DAGUERRE_MAX_WIDTH}) first, then the config file (Java properties, key {@code max-width}).
 * Flags given on the command line win over both; the caller checks them first.
 */
public final class Settings {

    private final Map<String, String> environment;
    private final Properties file;
    private final String fileName;

    private Settings(Map<String, String> environment, Properties file, String fileName) {
        this.environment = environment;
        this.file = file;
        this.fileName = fileName;
    }

    /** Settings from {@code environment} and the optional properties file {@code configFile}. */
    public static Settings load(Map<String, String> environment, Path configFile) throws IOException {
        Properties properties = new Properties();
        if (configFile != null) {
            try (Reader reader = Files.newBufferedReader(configFile)) {
                properties.load(reader);
            }
        }
        return new Settings(environment, properties, configFile == null ? null : configFile.toString());
    }

    /** The environment variable of a setting: {@code max-width} → {@code DAGUERRE_MAX_WIDTH}. */
    public static String environmentName(String key) {
        return "DAGUERRE_" + key.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    /** The raw value, or null when neither the environment nor the file sets it. */
    public String get(String key) {
        String fromEnvironment = environment.get(environmentName(key));
        if (fromEnvironment != null && !fromEnvironment.isBlank()) {
            return fromEnvironment.strip();
        }
        String fromFile = file.getProperty(key);
        return fromFile == null || fromFile.isBlank() ? null : fromFile.strip();
    }

    public String string(String key, String flag, String fallback) {
        if (flag != null) {
            return flag;
        }
        String value = get(key);
        return value == null ? fallback : value;
    }

    public int integer(String key, Integer flag, int fallback, int min, int max) {
        long value = flag != null ? flag : parse(key, get(key), fallback, false);
        return (int) check(key, value, min, max);
    }

    /** A byte count, with an optional suffix k, m or g (powers of 1024). */
    public long bytes(String key, String flag, long fallback) {
        String text = flag != null ? flag : get(key);
        return check(key, text == null ? fallback : parse(key, text, fallback, true), 0, Long.MAX_VALUE);
    }

    /** A comma-separated list. */
    public List<String> list(String key, List<String> flag) {
        if (flag != null && !flag.isEmpty()) {
            return List.copyOf(flag);
        }
        String value = get(key);
        return value == null ? List.of() : Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    private long parse(String key, String text, long fallback, boolean allowSuffix) {
        if (text == null) {
            return fallback;
        }
        String digits = text.strip().toLowerCase(Locale.ROOT);
        long scale = 1;
        if (allowSuffix && !digits.isEmpty()) {
            char last = digits.charAt(digits.length() - 1);
            scale = switch (last) {
                case 'k' -> 1L << 10;
                case 'm' -> 1L << 20;
                case 'g' -> 1L << 30;
                default -> 1;
            };
            if (scale > 1) {
                digits = digits.substring(0, digits.length() - 1);
            }
        }
        try {
            return Math.multiplyExact(Long.parseLong(digits), scale);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("setting " + key + " (" + where(key) + ") is not a valid number: " + text);
        }
    }

    private long check(String key, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException("setting " + key + " (" + where(key) + ") must be between " + min + " and " + max
                    + ", got " + value);
        }
        return value;
    }

    private String where(String key) {
        return "--" + key + ", " + environmentName(key) + (fileName == null ? "" : " or " + fileName);
    }
}
