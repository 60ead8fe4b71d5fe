//! The sqlml loadable extension: entry points only; everything else is `sqlml::register`.
