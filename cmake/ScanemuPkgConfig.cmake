# scanemu_configure_pc(<in> <out>)
# configure_file for a .pc template with PC_PREFIX, PC_EXEC_PREFIX, PC_LIBDIR,
# PC_INCLUDEDIR, PC_BINDIR and PC_DATADIR set. With relative install
# directories the prefix is found from the .pc file's own directory
# (${pcfiledir}), so an installed tree can be moved, and installed with
# --prefix anywhere.
function(scanemu_configure_pc in out)
  set(_dirs LIBDIR INCLUDEDIR BINDIR DATADIR)
  set(_absolute FALSE)
  foreach(d IN LISTS _dirs)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
      set(_absolute TRUE)
    endif()
  endforeach()
  if(_absolute)
    set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
    foreach(d IN LISTS _dirs)
      set(PC_${d} "${CMAKE_INSTALL_FULL_${d}}")
    endforeach()
  else()
    file(RELATIVE_PATH _up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
    string(REGEX REPLACE "/$" "" _up "${_up}")
    set(PC_PREFIX "\${pcfiledir}/${_up}")
    foreach(d IN LISTS _dirs)
      set(PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
    endforeach()
  endif()
  configure_file(${in} ${out} @ONLY)
endfunction()
