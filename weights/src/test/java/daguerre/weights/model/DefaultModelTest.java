package daguerre.weights.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The default model is found in a checkout, and unpacked once and verified from the class path. */
class DefaultModelTest {

    @TempDir
    Path temp;

    /** A class-path root holding a two-file "model" under daguerre/default-model/ with its manifest. */
    private Path classPathRoot() throws IOException {
        Path root = temp.resolve("classes");
        Path model = Files.createDirectories(root.resolve(DefaultModel.RESOURCE_ROOT));
        Files.writeString(model.resolve("model_index.json"), "{\"_class_name\":\"StableDiffusionPipeline\"}");
        Files.createDirectories(model.resolve("unet"));
        Files.write(model.resolve("unet/diffusion_pytorch_model.safetensors"), new byte[] {1, 2, 3, 4});
        DefaultModel.writeManifest(model);
        return root;
    }

    private static ClassLoader loader(Path root) throws IOException {
        return new URLClassLoader(new URL[] {root.toUri().toURL()}, null);
    }

    @Test
    void unpacksOnceAndVerifies() throws IOException {
        Path root = classPathRoot();
        Path cache = temp.resolve("cache");
        Path first = DefaultModel.unpackFromClassPath(loader(root), cache).orElseThrow();
        assertArrayEquals(new byte[] {1, 2, 3, 4}, Files.readAllBytes(first.resolve("unet/diffusion_pytorch_model.safetensors")));
        assertTrue(Files.isRegularFile(first.resolve("model_index.json")));
        long written = Files.getLastModifiedTime(first.resolve("model_index.json")).toMillis();
        Path second = DefaultModel.unpackFromClassPath(loader(root), cache).orElseThrow();
        assertEquals(first, second);
        assertEquals(written, Files.getLastModifiedTime(second.resolve("model_index.json")).toMillis(), "reused, not rewritten");
        try (var leftovers = Files.list(cache)) {
            assertEquals(1, leftovers.count(), "no temporary folders left behind");
        }
    }

    @Test
    void aTamperedFileIsRefusedAndNothingIsLeftInTheCache() throws IOException {
        Path root = classPathRoot();
        Files.write(root.resolve(DefaultModel.RESOURCE_ROOT + "unet/diffusion_pytorch_model.safetensors"), new byte[] {9});
        Path cache = temp.resolve("cache");
        IOException e = assertThrows(IOException.class, () -> DefaultModel.unpackFromClassPath(loader(root), cache));
        assertTrue(e.getMessage().contains("unet/diffusion_pytorch_model.safetensors"), e.getMessage());
        try (var leftovers = Files.list(cache)) {
            assertEquals(0, leftovers.count());
        }
    }

    @Test
    void noManifestMeansNoModelAndBadLinesAreRefused() throws IOException {
        assertEquals(Optional.empty(), DefaultModel.unpackFromClassPath(loader(Files.createDirectories(temp.resolve("empty"))),
                temp.resolve("cache")));
        assertThrows(IOException.class, () -> DefaultModel.parse("0".repeat(64) + "  ../etc/passwd\n"));
        assertThrows(IOException.class, () -> DefaultModel.parse("not-a-hash  model_index.json\n"));
    }

    @Test
    void aSourceCheckoutIsFoundFromASubfolder() throws IOException {
        Path repo = temp.resolve("repo");
        Path model = Files.createDirectories(repo.resolve(DefaultModel.SOURCE_FOLDER));
        Files.writeString(model.resolve("model_index.json"), "{}");
        Path deep = Files.createDirectories(repo.resolve("server/target"));
        assertEquals(model, DefaultModel.inSourceCheckout(deep).orElseThrow());
        assertEquals(Optional.empty(), DefaultModel.inSourceCheckout(Files.createDirectories(temp.resolve("elsewhere"))));
    }
}
