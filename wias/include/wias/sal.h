/*
 * wias/sal.h - Microsoft's source-code annotation language (SAL 2, plus
 * the RPC annotations MIDL puts into COM headers), defined away.
 *
 * Windows declarations and driver code carry annotations such as _In_,
 * _Inout_opt_, _Out_writes_bytes_(cb) or _COM_Outptr_. They mean nothing to
 * GCC or Clang, so every name below expands to nothing (the function-like
 * ones take the same number of arguments as Microsoft's). Each is defined
 * only if nothing defined it before, so another stub that defines the same
 * name to nothing wins quietly.
 *
 * Not defined, on purpose: the SAL 1 double-underscore names (__in, __out,
 * __inout, __reserved, __callback, __success, ...). libstdc++ and the Linux
 * UAPI headers use exactly those identifiers as parameter and member names
 * (std::copy's "__out", "__in" in <istream>, "__reserved" in <linux/stat.h>),
 * so a macro for them would break any standard header included after it.
 * Code that still uses SAL 1 must define them itself, after its standard
 * includes. The __RPC__ annotations collide with nothing and are defined.
 */
#ifndef WIAS_SAL_H
#define WIAS_SAL_H

/* ---- SAL 2 ------------------------------------------------------------ */

#ifndef _In_
#define _In_
#endif
#ifndef _In_opt_
#define _In_opt_
#endif
#ifndef _In_z_
#define _In_z_
#endif
#ifndef _In_opt_z_
#define _In_opt_z_
#endif
#ifndef _Out_
#define _Out_
#endif
#ifndef _Out_opt_
#define _Out_opt_
#endif
#ifndef _Inout_
#define _Inout_
#endif
#ifndef _Inout_opt_
#define _Inout_opt_
#endif
#ifndef _Inout_z_
#define _Inout_z_
#endif
#ifndef _Inout_opt_z_
#define _Inout_opt_z_
#endif
#ifndef _Outptr_
#define _Outptr_
#endif
#ifndef _Outptr_opt_
#define _Outptr_opt_
#endif
#ifndef _Outptr_result_maybenull_
#define _Outptr_result_maybenull_
#endif
#ifndef _Outptr_opt_result_maybenull_
#define _Outptr_opt_result_maybenull_
#endif
#ifndef _Outptr_result_z_
#define _Outptr_result_z_
#endif
#ifndef _Outptr_result_nullonfailure_
#define _Outptr_result_nullonfailure_
#endif
#ifndef _Outptr_opt_result_nullonfailure_
#define _Outptr_opt_result_nullonfailure_
#endif
#ifndef _COM_Outptr_
#define _COM_Outptr_
#endif
#ifndef _COM_Outptr_opt_
#define _COM_Outptr_opt_
#endif
#ifndef _COM_Outptr_result_maybenull_
#define _COM_Outptr_result_maybenull_
#endif
#ifndef _COM_Outptr_opt_result_maybenull_
#define _COM_Outptr_opt_result_maybenull_
#endif
#ifndef _Ret_maybenull_
#define _Ret_maybenull_
#endif
#ifndef _Ret_notnull_
#define _Ret_notnull_
#endif
#ifndef _Ret_z_
#define _Ret_z_
#endif
#ifndef _Ret_maybenull_z_
#define _Ret_maybenull_z_
#endif
#ifndef _Ret_null_
#define _Ret_null_
#endif
#ifndef _Ret_valid_
#define _Ret_valid_
#endif
#ifndef _Check_return_
#define _Check_return_
#endif
#ifndef _Must_inspect_result_
#define _Must_inspect_result_
#endif
#ifndef _Result_nullonfailure_
#define _Result_nullonfailure_
#endif
#ifndef _Result_zeroonfailure_
#define _Result_zeroonfailure_
#endif
#ifndef _Pre_
#define _Pre_
#endif
#ifndef _Post_
#define _Post_
#endif
#ifndef _Pre_valid_
#define _Pre_valid_
#endif
#ifndef _Post_valid_
#define _Post_valid_
#endif
#ifndef _Post_invalid_
#define _Post_invalid_
#endif
#ifndef _Pre_notnull_
#define _Pre_notnull_
#endif
#ifndef _Pre_maybenull_
#define _Pre_maybenull_
#endif
#ifndef _Pre_null_
#define _Pre_null_
#endif
#ifndef _Post_z_
#define _Post_z_
#endif
#ifndef _Post_notnull_
#define _Post_notnull_
#endif
#ifndef _Post_maybenull_
#define _Post_maybenull_
#endif
#ifndef _Post_null_
#define _Post_null_
#endif
#ifndef _Post_ptr_invalid_
#define _Post_ptr_invalid_
#endif
#ifndef _Notnull_
#define _Notnull_
#endif
#ifndef _Maybenull_
#define _Maybenull_
#endif
#ifndef _Null_
#define _Null_
#endif
#ifndef _Valid_
#define _Valid_
#endif
#ifndef _Notvalid_
#define _Notvalid_
#endif
#ifndef _Null_terminated_
#define _Null_terminated_
#endif
#ifndef _NullNull_terminated_
#define _NullNull_terminated_
#endif
#ifndef _Field_z_
#define _Field_z_
#endif
#ifndef _Reserved_
#define _Reserved_
#endif
#ifndef _Printf_format_string_
#define _Printf_format_string_
#endif
#ifndef _Scanf_format_string_
#define _Scanf_format_string_
#endif
#ifndef _Use_decl_annotations_
#define _Use_decl_annotations_
#endif
#ifndef _Frees_ptr_
#define _Frees_ptr_
#endif
#ifndef _Frees_ptr_opt_
#define _Frees_ptr_opt_
#endif
#ifndef _Interlocked_operand_
#define _Interlocked_operand_
#endif
#ifndef _Translates_last_error_to_HRESULT_
#define _Translates_last_error_to_HRESULT_
#endif
#ifndef _Points_to_data_
#define _Points_to_data_
#endif
#ifndef _Literal_
#define _Literal_
#endif
#ifndef _Notliteral_
#define _Notliteral_
#endif
#ifndef _Const_
#define _Const_
#endif
#ifndef _Deref_out_
#define _Deref_out_
#endif
#ifndef _Deref_out_opt_
#define _Deref_out_opt_
#endif
#ifndef _Deref_ret_z_
#define _Deref_ret_z_
#endif
#ifndef _Deref_out_z_
#define _Deref_out_z_
#endif
#ifndef _In_reads_
#define _In_reads_(a0)
#endif
#ifndef _In_reads_opt_
#define _In_reads_opt_(a0)
#endif
#ifndef _In_reads_bytes_
#define _In_reads_bytes_(a0)
#endif
#ifndef _In_reads_bytes_opt_
#define _In_reads_bytes_opt_(a0)
#endif
#ifndef _In_reads_z_
#define _In_reads_z_(a0)
#endif
#ifndef _In_reads_opt_z_
#define _In_reads_opt_z_(a0)
#endif
#ifndef _In_reads_or_z_
#define _In_reads_or_z_(a0)
#endif
#ifndef _In_reads_to_ptr_
#define _In_reads_to_ptr_(a0)
#endif
#ifndef _In_range_
#define _In_range_(a0, a1)
#endif
#ifndef _Out_writes_
#define _Out_writes_(a0)
#endif
#ifndef _Out_writes_opt_
#define _Out_writes_opt_(a0)
#endif
#ifndef _Out_writes_bytes_
#define _Out_writes_bytes_(a0)
#endif
#ifndef _Out_writes_bytes_opt_
#define _Out_writes_bytes_opt_(a0)
#endif
#ifndef _Out_writes_z_
#define _Out_writes_z_(a0)
#endif
#ifndef _Out_writes_opt_z_
#define _Out_writes_opt_z_(a0)
#endif
#ifndef _Out_writes_to_
#define _Out_writes_to_(a0, a1)
#endif
#ifndef _Out_writes_to_opt_
#define _Out_writes_to_opt_(a0, a1)
#endif
#ifndef _Out_writes_all_
#define _Out_writes_all_(a0)
#endif
#ifndef _Out_writes_all_opt_
#define _Out_writes_all_opt_(a0)
#endif
#ifndef _Out_writes_bytes_to_
#define _Out_writes_bytes_to_(a0, a1)
#endif
#ifndef _Out_writes_bytes_to_opt_
#define _Out_writes_bytes_to_opt_(a0, a1)
#endif
#ifndef _Out_writes_bytes_all_
#define _Out_writes_bytes_all_(a0)
#endif
#ifndef _Out_writes_bytes_all_opt_
#define _Out_writes_bytes_all_opt_(a0)
#endif
#ifndef _Out_writes_to_ptr_
#define _Out_writes_to_ptr_(a0)
#endif
#ifndef _Out_range_
#define _Out_range_(a0, a1)
#endif
#ifndef _Inout_updates_
#define _Inout_updates_(a0)
#endif
#ifndef _Inout_updates_opt_
#define _Inout_updates_opt_(a0)
#endif
#ifndef _Inout_updates_bytes_
#define _Inout_updates_bytes_(a0)
#endif
#ifndef _Inout_updates_bytes_opt_
#define _Inout_updates_bytes_opt_(a0)
#endif
#ifndef _Inout_updates_z_
#define _Inout_updates_z_(a0)
#endif
#ifndef _Inout_updates_to_
#define _Inout_updates_to_(a0, a1)
#endif
#ifndef _Inout_updates_bytes_to_
#define _Inout_updates_bytes_to_(a0, a1)
#endif
#ifndef _Inout_updates_all_
#define _Inout_updates_all_(a0)
#endif
#ifndef _Inout_updates_bytes_all_
#define _Inout_updates_bytes_all_(a0)
#endif
#ifndef _Outptr_result_buffer_
#define _Outptr_result_buffer_(a0)
#endif
#ifndef _Outptr_result_bytebuffer_
#define _Outptr_result_bytebuffer_(a0)
#endif
#ifndef _Outptr_opt_result_buffer_
#define _Outptr_opt_result_buffer_(a0)
#endif
#ifndef _Outptr_opt_result_bytebuffer_
#define _Outptr_opt_result_bytebuffer_(a0)
#endif
#ifndef _Outptr_result_buffer_to_
#define _Outptr_result_buffer_to_(a0, a1)
#endif
#ifndef _Outptr_result_bytebuffer_to_
#define _Outptr_result_bytebuffer_to_(a0, a1)
#endif
#ifndef _Ret_writes_
#define _Ret_writes_(a0)
#endif
#ifndef _Ret_writes_bytes_
#define _Ret_writes_bytes_(a0)
#endif
#ifndef _Ret_writes_maybenull_
#define _Ret_writes_maybenull_(a0)
#endif
#ifndef _Ret_writes_bytes_maybenull_
#define _Ret_writes_bytes_maybenull_(a0)
#endif
#ifndef _Ret_range_
#define _Ret_range_(a0, a1)
#endif
#ifndef _Success_
#define _Success_(a0)
#endif
#ifndef _Return_type_success_
#define _Return_type_success_(a0)
#endif
#ifndef _On_failure_
#define _On_failure_(a0)
#endif
#ifndef _Always_
#define _Always_(a0)
#endif
#ifndef _When_
#define _When_(a0, a1)
#endif
#ifndef _At_
#define _At_(a0, a1)
#endif
#ifndef _At_buffer_
#define _At_buffer_(a0, a1, a2, a3)
#endif
#ifndef _Group_
#define _Group_(a0)
#endif
#ifndef _Pre_satisfies_
#define _Pre_satisfies_(a0)
#endif
#ifndef _Post_satisfies_
#define _Post_satisfies_(a0)
#endif
#ifndef _Pre_readable_size_
#define _Pre_readable_size_(a0)
#endif
#ifndef _Pre_writable_size_
#define _Pre_writable_size_(a0)
#endif
#ifndef _Pre_readable_byte_size_
#define _Pre_readable_byte_size_(a0)
#endif
#ifndef _Pre_writable_byte_size_
#define _Pre_writable_byte_size_(a0)
#endif
#ifndef _Post_readable_size_
#define _Post_readable_size_(a0)
#endif
#ifndef _Post_writable_size_
#define _Post_writable_size_(a0)
#endif
#ifndef _Post_readable_byte_size_
#define _Post_readable_byte_size_(a0)
#endif
#ifndef _Post_writable_byte_size_
#define _Post_writable_byte_size_(a0)
#endif
#ifndef _Post_equal_to_
#define _Post_equal_to_(a0)
#endif
#ifndef _Field_size_
#define _Field_size_(a0)
#endif
#ifndef _Field_size_opt_
#define _Field_size_opt_(a0)
#endif
#ifndef _Field_size_bytes_
#define _Field_size_bytes_(a0)
#endif
#ifndef _Field_size_bytes_opt_
#define _Field_size_bytes_opt_(a0)
#endif
#ifndef _Field_size_part_
#define _Field_size_part_(a0, a1)
#endif
#ifndef _Field_size_part_opt_
#define _Field_size_part_opt_(a0, a1)
#endif
#ifndef _Field_size_bytes_part_
#define _Field_size_bytes_part_(a0, a1)
#endif
#ifndef _Field_size_bytes_part_opt_
#define _Field_size_bytes_part_opt_(a0, a1)
#endif
#ifndef _Field_size_full_
#define _Field_size_full_(a0)
#endif
#ifndef _Field_size_bytes_full_
#define _Field_size_bytes_full_(a0)
#endif
#ifndef _Field_range_
#define _Field_range_(a0, a1)
#endif
#ifndef _Struct_size_bytes_
#define _Struct_size_bytes_(a0)
#endif
#ifndef _Analysis_assume_
#define _Analysis_assume_(a0)
#endif
#ifndef _Analysis_mode_
#define _Analysis_mode_(a0)
#endif
#ifndef _Inexpressible_
#define _Inexpressible_(a0)
#endif
#ifndef _Translates_Win32_to_HRESULT_
#define _Translates_Win32_to_HRESULT_(a0)
#endif
#ifndef _Writable_elements_
#define _Writable_elements_(a0)
#endif
#ifndef _Writable_bytes_
#define _Writable_bytes_(a0)
#endif
#ifndef _Readable_bytes_
#define _Readable_bytes_(a0)
#endif
#ifndef _Readable_elements_
#define _Readable_elements_(a0)
#endif
#ifndef _Acquires_lock_
#define _Acquires_lock_(a0)
#endif
#ifndef _Releases_lock_
#define _Releases_lock_(a0)
#endif
#ifndef _Requires_lock_held_
#define _Requires_lock_held_(a0)
#endif
#ifndef _Requires_lock_not_held_
#define _Requires_lock_not_held_(a0)
#endif
#ifndef _Guarded_by_
#define _Guarded_by_(a0)
#endif
#ifndef _Acquires_exclusive_lock_
#define _Acquires_exclusive_lock_(a0)
#endif
#ifndef _Releases_exclusive_lock_
#define _Releases_exclusive_lock_(a0)
#endif
#ifndef _Acquires_shared_lock_
#define _Acquires_shared_lock_(a0)
#endif
#ifndef _Releases_shared_lock_
#define _Releases_shared_lock_(a0)
#endif
#ifndef _Requires_exclusive_lock_held_
#define _Requires_exclusive_lock_held_(a0)
#endif
#ifndef _Requires_shared_lock_held_
#define _Requires_shared_lock_held_(a0)
#endif
#ifndef _Requires_no_locks_held_
#define _Requires_no_locks_held_
#endif
#ifndef _In_count_
#define _In_count_(a0)
#endif
#ifndef _Out_cap_
#define _Out_cap_(a0)
#endif
#ifndef _Out_bytecap_
#define _Out_bytecap_(a0)
#endif
#ifndef _Inout_cap_
#define _Inout_cap_(a0)
#endif
#ifndef _In_bytecount_
#define _In_bytecount_(a0)
#endif
#ifndef _Out_z_cap_
#define _Out_z_cap_(a0)
#endif
#ifndef _Ret_bytecap_
#define _Ret_bytecap_(a0)
#endif
#ifndef _Deref_out_range_
#define _Deref_out_range_(a0, a1)
#endif
#ifndef _Deref_post_z_
#define _Deref_post_z_
#endif

/* ---- RPC annotations (rpcsal.h names used in MIDL-generated headers) -- */

#ifndef __RPC__in
#define __RPC__in
#endif
#ifndef __RPC__in_opt
#define __RPC__in_opt
#endif
#ifndef __RPC__out
#define __RPC__out
#endif
#ifndef __RPC__inout
#define __RPC__inout
#endif
#ifndef __RPC__inout_opt
#define __RPC__inout_opt
#endif
#ifndef __RPC__deref_out
#define __RPC__deref_out
#endif
#ifndef __RPC__deref_out_opt
#define __RPC__deref_out_opt
#endif
#ifndef __RPC__deref_out_opt_string
#define __RPC__deref_out_opt_string
#endif
#ifndef __RPC__in_string
#define __RPC__in_string
#endif
#ifndef __RPC__deref_in_opt
#define __RPC__deref_in_opt
#endif
#ifndef __RPC_FAR
#define __RPC_FAR
#endif
#ifndef __RPC_USER
#define __RPC_USER
#endif
#ifndef __RPC_STUB
#define __RPC_STUB
#endif
#ifndef __RPC_API
#define __RPC_API
#endif
#ifndef __RPC__in_ecount
#define __RPC__in_ecount(a0)
#endif
#ifndef __RPC__in_ecount_full
#define __RPC__in_ecount_full(a0)
#endif
#ifndef __RPC__in_ecount_full_opt
#define __RPC__in_ecount_full_opt(a0)
#endif
#ifndef __RPC__out_ecount
#define __RPC__out_ecount(a0)
#endif
#ifndef __RPC__out_ecount_full
#define __RPC__out_ecount_full(a0)
#endif
#ifndef __RPC__out_ecount_part
#define __RPC__out_ecount_part(a0, a1)
#endif
#ifndef __RPC__inout_ecount_full
#define __RPC__inout_ecount_full(a0)
#endif
#ifndef __RPC__out_ecount_full_string
#define __RPC__out_ecount_full_string(a0)
#endif
#ifndef __RPC__in_xcount
#define __RPC__in_xcount(a0)
#endif
#ifndef __RPC__out_xcount
#define __RPC__out_xcount(a0)
#endif
#ifndef __RPC__deref_out_ecount_full_opt
#define __RPC__deref_out_ecount_full_opt(a0)
#endif
#endif /* WIAS_SAL_H */
