package daguerre.diffusion.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import org.junit.jupiter.api.Test;

class ComputePrecisionTest {

    @Test
    void autoIsBfloat16OnlyWithSixteenBitWeightsAndNativeUnits() {
        assertEquals(ComputePrecision.BFLOAT16, ComputePrecision.AUTO.resolve(DataType.FLOAT16, true));
        assertEquals(ComputePrecision.BFLOAT16, ComputePrecision.AUTO.resolve(DataType.BFLOAT16, true));
        assertEquals(ComputePrecision.FLOAT32, ComputePrecision.AUTO.resolve(DataType.FLOAT32, true));
        assertEquals(ComputePrecision.FLOAT32, ComputePrecision.AUTO.resolve(DataType.FLOAT16, false));
        assertEquals(ComputePrecision.FLOAT32, ComputePrecision.AUTO.resolve(DataType.BFLOAT16, false));
    }

    @Test
    void anExplicitChoiceIsKept() {
        for (DataType weights : new DataType[] {DataType.FLOAT32, DataType.FLOAT16}) {
            for (boolean nativeBf16 : new boolean[] {true, false}) {
                assertEquals(ComputePrecision.FLOAT32, ComputePrecision.FLOAT32.resolve(weights, nativeBf16));
                assertEquals(ComputePrecision.BFLOAT16, ComputePrecision.BFLOAT16.resolve(weights, nativeBf16));
            }
        }
    }

    @Test
    void parsesOptionNamesAndRefusesOthers() {
        assertEquals(ComputePrecision.AUTO, ComputePrecision.parse("auto"));
        assertEquals(ComputePrecision.FLOAT32, ComputePrecision.parse(" F32 "));
        assertEquals(ComputePrecision.BFLOAT16, ComputePrecision.parse("bf16"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputePrecision.parse("f16"));
        assertTrue(e.getMessage().contains("f16") && e.getMessage().contains("auto, f32, bf16"), e.getMessage());
    }

    @Test
    void aPassNeverRunsWithAnUnresolvedChoice() {
        assertThrows(IllegalArgumentException.class, () -> Kernels.ALL.withProducts(ComputePrecision.AUTO));
        assertEquals(ComputePrecision.FLOAT32, Kernels.ALL.products());
        assertEquals(ComputePrecision.BFLOAT16, Kernels.ALL.withProducts(ComputePrecision.BFLOAT16).without(FusedOps.Kernel.LINEAR).products());
    }
}
