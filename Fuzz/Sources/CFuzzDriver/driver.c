/* Nothing here: the header declares libFuzzer's own driver. */
