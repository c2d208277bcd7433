// The agent core: see agent.h (landing next).
