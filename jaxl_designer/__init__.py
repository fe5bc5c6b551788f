"""Design, simulate, test and export Jaxl IVR call trees."""
