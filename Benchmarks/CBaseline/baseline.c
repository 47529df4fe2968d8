int linecard_baseline_placeholder(void){return 0;}
